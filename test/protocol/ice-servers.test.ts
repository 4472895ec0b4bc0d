/**
 * `ice_servers` in `rtc:joined` and `rtc:resumed`: what the parser accepts
 * (the URLs of RFC 7064 and 7065, TURN with credentials, within the limits),
 * what it refuses (the whole frame, naming the field), and that a frame
 * without it parses as before.
 */
import { describe, expect, test } from 'vitest';
import {
  isIceServerUrl,
  PROTOCOL_LIMITS,
  parseServerEvent,
  parseServerFrame,
  type ServerMessage,
} from '../../src/protocol/index.js';

const joined = (extra: Record<string, unknown>) => ({ client_id: 'me', peers: ['ada'], pool: 'room', ...extra });
const turn = { urls: ['turn:turn.example.org:3478?transport=udp'], username: '1700000000:me', credential: 'c2VjcmV0' };

function parsed(type: string, data: unknown): ServerMessage {
  const result = parseServerEvent(type, data);
  if (!result.ok) throw result.error;
  return result.message;
}

function refused(type: string, data: unknown): { code: string; field: string | undefined; message: string } {
  const result = parseServerEvent(type, data);
  if (result.ok) throw new Error(`expected a refusal, got ${JSON.stringify(result.message)}`);
  return { code: result.error.code, field: result.error.field, message: result.error.message };
}

describe('ice_servers', () => {
  test('rtc:joined and rtc:resumed carry STUN and TURN servers, copied with only their known fields', () => {
    const servers = [
      { urls: 'stun:stun.example.org', extra: 1 },
      { ...turn, credentialType: 'password' },
    ];
    expect(parsed('rtc:joined', joined({ ice_servers: servers }))).toStrictEqual({
      type: 'rtc:joined',
      data: {
        client_id: 'me',
        peers: ['ada'],
        descriptions: Object.assign(Object.create(null), { ada: null }),
        pool: 'room',
        ice_servers: [{ urls: 'stun:stun.example.org' }, turn],
      },
    });
    expect(parsed('rtc:resumed', { client_id: 'me', received: 3, ice_servers: [turn] })).toStrictEqual({
      type: 'rtc:resumed',
      data: { client_id: 'me', received: 3, ice_servers: [turn] },
    });
    // Empty is a list too; absent or null is no list: the field is not there.
    expect(parsed('rtc:joined', joined({ ice_servers: [] })).data).toHaveProperty('ice_servers', []);
    expect(parsed('rtc:joined', joined({ ice_servers: null })).data).not.toHaveProperty('ice_servers');
    expect(parsed('rtc:resumed', { client_id: 'me', received: 0 }).data).toStrictEqual({
      client_id: 'me',
      received: 0,
    });
    // And from a raw text frame, as the WebSocket transceiver reads it.
    const frame = JSON.stringify({ type: 'rtc:joined', data: joined({ ice_servers: [turn] }) });
    const result = parseServerFrame(frame);
    expect(result.ok && result.message.type === 'rtc:joined' && result.message.data.ice_servers).toEqual([turn]);
  });

  test.each([
    'stun:stun.example.org',
    'stun:192.0.2.1:3478',
    'stuns:stun.example.org:5349',
    'stun:[2001:db8::1]:3478',
    'turn:turn.example.org',
    'turn:127.0.0.1:3478?transport=udp',
    'turn:[::1]:3478?transport=tcp',
    'turns:turn.example.org:443?transport=tcp',
  ])('accepts %s', (url) => {
    expect(isIceServerUrl(url)).toBe(true);
  });

  test.each([
    ['https://turn.example.org', 'another scheme'],
    ['TURN:turn.example.org', 'an uppercase scheme'],
    ['turn:', 'no host'],
    ['turn:user@turn.example.org', 'credentials in the URL'],
    ['turn:turn.example.org:0', 'port 0'],
    ['turn:turn.example.org:65536', 'a port past 65535'],
    ['turn:turn.example.org:3478?transport=sctp', 'another transport'],
    ['stun:stun.example.org?transport=udp', 'a transport on a STUN URL'],
    ['turn:turn example.org', 'a space'],
    [`turn:${'a'.repeat(PROTOCOL_LIMITS.maxIceServerUrlLength)}`, 'too long'],
  ])('refuses %s (%s)', (url) => {
    expect(isIceServerUrl(url)).toBe(false);
  });

  test.each<[string, unknown, string]>([
    ['not an array', { urls: 'stun:x' }, 'data.ice_servers'],
    [
      'too many servers',
      Array.from({ length: PROTOCOL_LIMITS.maxIceServers + 1 }, () => ({ urls: 'stun:x' })),
      'data.ice_servers',
    ],
    ['an entry that is not an object', ['stun:x'], 'data.ice_servers[0]'],
    ['no urls', [{ username: 'u', credential: 'c' }], 'data.ice_servers[0].urls'],
    ['an empty urls array', [{ urls: [] }], 'data.ice_servers[0].urls'],
    [
      'too many urls',
      [{ urls: Array.from({ length: PROTOCOL_LIMITS.maxIceServerUrls + 1 }, () => 'stun:x') }],
      'data.ice_servers[0].urls',
    ],
    ['a bad URL', [{ urls: ['stun:x', 'http://x'] }], 'data.ice_servers[0].urls[1]'],
    ['a bad single URL', [{ urls: 'javascript:alert(1)' }], 'data.ice_servers[0].urls'],
    // biome-ignore lint/suspicious/noSparseArray: the hole is the point
    ['a hole in urls', [{ urls: ['stun:x', , 'stun:y'] }], 'data.ice_servers[0].urls[1]'],
    ['TURN without a username', [{ urls: 'turn:x', credential: 'c' }], 'data.ice_servers[0].username'],
    ['TURN without a credential', [{ urls: ['stun:x', 'turn:x'], username: 'u' }], 'data.ice_servers[0].credential'],
    [
      'TURN with an empty username',
      [{ urls: 'turn:x', username: '', credential: 'c' }],
      'data.ice_servers[0].username',
    ],
    ['a username that is not a string', [{ urls: 'stun:x', username: 42 }], 'data.ice_servers[0].username'],
    [
      'a credential too long',
      [{ urls: 'turn:x', username: 'u', credential: 'c'.repeat(PROTOCOL_LIMITS.maxIceCredentialLength + 1) }],
      'data.ice_servers[0].credential',
    ],
  ])('refuses the whole frame for %s, naming the field', (_, servers, field) => {
    for (const [type, data] of [
      ['rtc:joined', joined({ ice_servers: servers })],
      ['rtc:resumed', { client_id: 'me', received: 0, ice_servers: servers }],
    ] as const) {
      const error = refused(type, data);
      expect(error.code).toBe('invalid-field');
      expect(error.field).toBe(field);
      expect(error.message).toContain(`${type}: ${field} must be`);
    }
  });

  test('a refusal never quotes the credential it refused', () => {
    const credential = `s3cret-${'x'.repeat(PROTOCOL_LIMITS.maxIceCredentialLength)}`;
    const error = refused('rtc:joined', joined({ ice_servers: [{ urls: 'turn:x', username: 'u', credential }] }));
    expect(error.message).not.toContain('s3cret');
  });
});
