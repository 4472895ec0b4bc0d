/**
 * The hub's one way for an endpoint to go away (`disconnect`), on the hub
 * alone: whether the session is kept or ends, what is closed, that it happens
 * once even when the transport reports the close back at once (socket.io
 * does), and that the upgrade request is let go once joined.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, test } from 'vitest';
import { parseClientEvent } from '../../src/protocol/index.js';
import type { ServerEvent } from '../../src/server/events.js';
import type { Hub } from '../../src/server/hub.js';
import type { ConnectionInfo } from '../../src/server/options.js';
import type { Endpoint, Link } from '../../src/server/sessions.js';
import { testHub } from '../support/server-hub.js';

interface Client {
  endpoint: Endpoint;
  frames: Array<{ type: string; data: Record<string, unknown> }>;
  closedWith: number[];
  terminated: boolean;
}

/** A connection; `echoClose` makes its link report a close back at once, as socket.io's does. */
function connect(hub: Hub, request: IncomingMessage, echoClose = false): Client {
  const client: Client = { endpoint: undefined as never, frames: [], closedWith: [], terminated: false };
  const link: Link = {
    send: (type, data) => client.frames.push({ type, data }),
    close: (code) => {
      client.closedWith.push(code);
      if (echoClose) hub.disconnect(client.endpoint, { why: 'closed', keepSession: true });
    },
    terminate: () => {
      client.terminated = true;
    },
    ping: () => undefined,
  };
  client.endpoint = hub.open(link, { identity: 'me', request, transport: 'websocket' });
  return client;
}

const send = (hub: Hub, client: Client, type: string, data: unknown) =>
  hub.receive(client.endpoint, () => parseClientEvent(type, data));

const request = (path: string) => ({ url: path, headers: {} }) as IncomingMessage;

function recorded(hub: Hub): ServerEvent[] {
  const events: ServerEvent[] = [];
  hub.events.subscribe((event) => events.push(event));
  return events;
}

describe('Hub.disconnect', () => {
  test('keepSession with resumption on: the session waits, the pool hears nothing; without it: a leave', () => {
    const hub = testHub({ resumeWindowMs: 60_000 });
    const events = recorded(hub);
    const ada = connect(hub, request('/a'));
    const bob = connect(hub, request('/b'));
    send(hub, ada, 'rtc:join', { pool: 'room' });
    send(hub, bob, 'rtc:join', { pool: 'room' });
    const bobId = bob.endpoint.id;

    hub.disconnect(bob.endpoint, { why: 'closed', keepSession: true });
    expect(hub.stats()).toMatchObject({ connections: 1, endpoints: 2, detached: 1, leaves: 0 });
    expect(events.slice(-2)).toEqual([
      { type: 'detach', clientId: bobId, pool: 'room' },
      { type: 'disconnect', clientId: bobId, why: 'closed' },
    ]);
    expect(ada.frames.map(({ type }) => type)).not.toContain('rtc:close');

    hub.disconnect(ada.endpoint, { why: 'closed', keepSession: false });
    expect(hub.stats()).toMatchObject({ connections: 0, endpoints: 1, detached: 1, leaves: 1 });
    expect(ada.closedWith).toEqual([]);
  });

  test('keepSession means nothing with resumption off: the session ends', () => {
    const hub = testHub({ resumeWindowMs: 0 });
    const ada = connect(hub, request('/a'));
    send(hub, ada, 'rtc:join', { pool: 'room' });
    hub.disconnect(ada.endpoint, { why: 'heartbeat', keepSession: true });
    expect(hub.stats()).toMatchObject({ endpoints: 0, detached: 0, leaves: 1, pools: 0 });
  });

  test('close and terminate reach the link once; a second disconnect does nothing', () => {
    const hub = testHub();
    const events = recorded(hub);
    const ada = connect(hub, request('/a'));
    const bob = connect(hub, request('/b'));
    hub.disconnect(ada.endpoint, { why: 'rate-limit', keepSession: false, close: { code: 4029, reason: 'no' } });
    hub.disconnect(ada.endpoint, { why: 'rate-limit', keepSession: false, close: { code: 4029, reason: 'no' } });
    hub.disconnect(bob.endpoint, { why: 'heartbeat', keepSession: true, close: 'terminate' });
    expect(ada.closedWith).toEqual([4029]);
    expect(bob.terminated).toBe(true);
    expect(events.filter(({ type }) => type === 'disconnect')).toEqual([
      { type: 'disconnect', clientId: null, why: 'rate-limit' },
      { type: 'disconnect', clientId: null, why: 'heartbeat' },
    ]);
  });

  test("a close the transport reports back at once (socket.io) changes nothing: the hub's own departure decides", () => {
    const hub = testHub({ resumeWindowMs: 60_000 });
    const events = recorded(hub);
    const ada = connect(hub, request('/a'), true);
    send(hub, ada, 'rtc:join', { pool: 'room' });
    hub.disconnect(ada.endpoint, { why: 'rate-limit', keepSession: false, close: { code: 4029, reason: 'no' } });
    expect(ada.closedWith).toEqual([4029]);
    const gone = events.filter(({ type }) => type === 'disconnect' || type === 'detach' || type === 'leave');
    // Cut off for abuse: a leave, not a session kept for a resume.
    expect(gone.map(({ type }) => type)).toEqual(['leave', 'disconnect']);
    expect(hub.stats()).toMatchObject({ connections: 0, detached: 0, endpoints: 0 });
  });
});

describe('the upgrade request', () => {
  test('resolvePool sees it while joining; it is let go once joined, and once resumed', async () => {
    const seen: Array<ConnectionInfo<unknown>> = [];
    const hub = testHub({
      resumeWindowMs: 60_000,
      resolvePool: (requested, connection) => {
        seen.push(connection);
        return requested;
      },
    });
    const first = request('/first');
    const ada = connect(hub, first);
    expect(ada.endpoint.request).toBe(first);
    send(hub, ada, 'rtc:join', { pool: 'room' });
    await until(() => ada.endpoint.state === 'joined');
    expect(seen).toEqual([{ identity: 'me', request: first, transport: 'websocket' }]);
    expect(ada.endpoint.request).toBeUndefined();

    const joined = ada.frames.find(({ type }) => type === 'rtc:joined')?.data;
    const token = (joined?.resume as { token: string } | undefined)?.token;
    hub.disconnect(ada.endpoint, { why: 'closed', keepSession: true });
    const again = connect(hub, request('/again'));
    send(hub, again, 'rtc:resume', { id: joined?.client_id, token, received: 0 });
    expect(again.endpoint.state).toBe('joined');
    expect(again.endpoint.request).toBeUndefined();
  });
});

async function until(done: () => boolean): Promise<void> {
  for (let turn = 0; turn < 100 && !done(); turn++) await Promise.resolve();
  expect(done()).toBe(true);
}
