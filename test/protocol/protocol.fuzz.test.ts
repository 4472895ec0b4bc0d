/**
 * Fuzzing the wire protocol: whatever arrives (arbitrary JSON, arbitrary
 * strings, arbitrary JavaScript values, valid frames with one thing broken),
 * the parsers never throw and answer either a message that satisfies every
 * documented constraint or a `SignallingError` with a known code. Valid
 * frames in either dialect parse to the message they encode.
 *
 * The oracle below restates the constraints independently of `src/protocol`.
 * A failure prints fast-check's seed and path; replay it with
 * RTCPOOL_PROPERTY_SEED=<seed> RTCPOOL_PROPERTY_PATH=<path>.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  type ClientMessage,
  encodeFrame,
  type IceServer,
  type JoinedData,
  type JsonValue,
  type ParseOptions,
  type ParseResult,
  parseClientEvent,
  parseClientFrame,
  parseServerEvent,
  parseServerFrame,
  type ServerMessage,
  SignallingError,
} from '../../src/protocol/index.js';

let generated = 0;
/** Verdicts by outcome (`ok` or an error code), to show the fuzzing is not degenerate. */
const outcomes = new Map<string, number>();
const params = (numRuns: number): fc.Parameters<unknown> => {
  const chosen: fc.Parameters<unknown> = { numRuns };
  if (process.env.RTCPOOL_PROPERTY_SEED) chosen.seed = Number(process.env.RTCPOOL_PROPERTY_SEED);
  if (process.env.RTCPOOL_PROPERTY_PATH) chosen.path = process.env.RTCPOOL_PROPERTY_PATH;
  return chosen;
};

// ---- The oracle: what any accepted message must look like. ----

type Plain = Record<string, unknown>;
const isPlain = (value: unknown): value is Plain =>
  typeof value === 'object' &&
  value !== null &&
  !Array.isArray(value) &&
  [Object.prototype, null].includes(Object.getPrototypeOf(value));
const isText = (value: unknown, min: number, max: number): value is string =>
  typeof value === 'string' && value.length >= min && value.length <= max;
const isId = (value: unknown) => isText(value, 1, 128);
const nullOr = (value: unknown, check: (value: unknown) => boolean) => value === null || check(value);
/** Exactly the `required` keys plus possibly some `optional` ones. */
function hasKeys(value: unknown, required: string[], optional: string[] = []): value is Plain {
  if (!isPlain(value)) return false;
  const keys = Object.keys(value);
  return required.every((key) => keys.includes(key)) && keys.every((key) => [...required, ...optional].includes(key));
}

function isJson(value: unknown, depth = 0): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (depth >= 32) return false;
  if (Array.isArray(value)) return value.every((item) => isJson(item, depth + 1));
  return isPlain(value) && Object.values(value).every((item) => isJson(item, depth + 1));
}

const isDescription = (value: unknown) =>
  hasKeys(value, ['type', 'sdp']) &&
  (value.type === 'offer' || value.type === 'answer') &&
  isText(value.sdp, 1, 256 * 1024);

const isCount = (value: unknown): boolean => Number.isSafeInteger(value) && (value as number) >= 0;

function isCandidate(value: unknown): boolean {
  if (value === null) return true;
  if (!hasKeys(value, ['candidate'], ['sdpMid', 'sdpMLineIndex', 'usernameFragment'])) return false;
  const { candidate, sdpMid, sdpMLineIndex, usernameFragment } = value;
  const optionalText = (field: unknown) => field === undefined || nullOr(field, (text) => isText(text, 0, 256));
  const index =
    sdpMLineIndex === undefined ||
    sdpMLineIndex === null ||
    (Number.isInteger(sdpMLineIndex) && (sdpMLineIndex as number) >= 0 && (sdpMLineIndex as number) <= 65535);
  return (
    isText(candidate, 0, 4096) &&
    optionalText(sdpMid) &&
    optionalText(usernameFragment) &&
    index &&
    (candidate === '' || sdpMid != null || sdpMLineIndex != null)
  );
}

/** An ICE server URL as docs/protocol.md states it (RFC 7064, 7065: transport on TURN URLs only). */
function isIceUrl(value: unknown): value is string {
  if (!isText(value, 1, 256)) return false;
  const parts = /^(stuns?|turns?):(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:\d{1,5})?(\?transport=(udp|tcp))?$/.exec(value);
  if (!parts) return false;
  const port = parts[3] === undefined ? 1 : Number(parts[3].slice(1));
  return port >= 1 && port <= 65535 && (parts[4] === undefined || parts[1]?.startsWith('turn') === true);
}

function isIceServers(value: unknown): boolean {
  if (value === undefined) return true;
  if (!Array.isArray(value) || value.length > 8) return false;
  return value.every((server) => {
    if (!hasKeys(server, ['urls'], ['username', 'credential'])) return false;
    const urls = typeof server.urls === 'string' ? [server.urls] : server.urls;
    if (!Array.isArray(urls) || urls.length < 1 || urls.length > 8 || !urls.every(isIceUrl)) return false;
    const turn = urls.some((url: string) => url.startsWith('turn'));
    const secret = (field: unknown) => (turn ? isText(field, 1, 256) : field === undefined || isText(field, 0, 256));
    return secret(server.username) && secret(server.credential);
  });
}

function isServerMessage(message: unknown): boolean {
  if (!hasKeys(message, ['type', 'data'])) return false;
  const data = message.data;
  switch (message.type) {
    case 'rtc:joined': {
      if (!hasKeys(data, ['client_id', 'peers', 'descriptions', 'pool'], ['resume', 'ice_servers'])) return false;
      const { client_id, peers, descriptions, pool, resume } = data;
      return (
        isIceServers(data.ice_servers) &&
        (resume === undefined ||
          (hasKeys(resume, ['token', 'window_ms']) && isId(resume.token) && isCount(resume.window_ms))) &&
        isId(client_id) &&
        Array.isArray(peers) &&
        peers.every(isId) &&
        new Set([client_id, ...peers]).size === peers.length + 1 &&
        isPlain(descriptions) &&
        peers.every((peer) => Object.hasOwn(descriptions, peer)) &&
        Object.keys(descriptions).every(isId) &&
        Object.values(descriptions).every((value) => isJson(value)) &&
        nullOr(pool, (name) => isText(name, 1, 256))
      );
    }
    case 'rtc:peer':
    case 'rtc:close':
      return hasKeys(data, ['id']) && isId(data.id);
    case 'rtc:sdp':
      return hasKeys(data, ['peer', 'description']) && isId(data.peer) && isDescription(data.description);
    case 'rtc:candidate':
      return hasKeys(data, ['from', 'candidate']) && isId(data.from) && isCandidate(data.candidate);
    case 'rtc:stop':
      return hasKeys(data, []);
    case 'rtc:resumed':
      return (
        hasKeys(data, ['client_id', 'received'], ['ice_servers']) &&
        isId(data.client_id) &&
        isCount(data.received) &&
        isIceServers(data.ice_servers)
      );
    case 'rtc:describe':
      return hasKeys(data, ['id', 'description']) && isId(data.id) && isJson(data.description);
    case 'rtc:error':
      return (
        hasKeys(data, ['message'], ['reason']) &&
        isText(data.message, 0, 4096) &&
        (data.reason === undefined || isText(data.reason, 0, 4096))
      );
    default:
      return false;
  }
}

function isClientMessage(message: unknown): boolean {
  if (!hasKeys(message, ['type', 'data'])) return false;
  const data = message.data;
  switch (message.type) {
    case 'rtc:join':
      return hasKeys(data, ['pool']) && isText(data.pool, 1, 256);
    case 'rtc:sdp':
      return hasKeys(data, ['to', 'description']) && isId(data.to) && isDescription(data.description);
    case 'rtc:candidate':
      return hasKeys(data, ['for', 'candidate']) && isId(data.for) && isCandidate(data.candidate);
    case 'rtc:resume':
      return hasKeys(data, ['id', 'token', 'received']) && isId(data.id) && isId(data.token) && isCount(data.received);
    default:
      return false;
  }
}

/** A message as the other side will see it: order-insensitive, -0 and prototypes gone. */
const wire = (message: ServerMessage | ClientMessage): unknown => JSON.parse(encodeFrame(message));

const codes = ['malformed-frame', 'unknown-event', 'invalid-field', 'frame-too-large', 'forbidden-event'];
const roomy = { maxFrameBytes: Number.POSITIVE_INFINITY };

/**
 * Throws unless `ok`. The hot path of 20,000+ runs uses this rather than
 * `expect`, whose matchers cost more than the parsers under test.
 */
function check(ok: boolean, what: string, subject: unknown): void {
  if (!ok) throw new Error(`${what}: ${typeof subject === 'string' ? subject : String(subject)}`);
}

/** A verdict is a well-formed message that re-encodes to itself, or a SignallingError with a known code. */
function expectVerdict<T extends ServerMessage | ClientMessage>(
  result: ParseResult<T>,
  isMessage: (message: unknown) => boolean,
  parse: (raw: unknown, options: ParseOptions) => ParseResult<T>,
): void {
  const outcome = result.ok ? 'ok' : result.error.code;
  outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  if (!result.ok) {
    const { error } = result;
    check(error instanceof SignallingError, 'not a SignallingError', error);
    check(codes.includes(error.code) && error.message !== '', 'unknown code or empty message', error);
    return;
  }
  const encoded = encodeFrame(result.message);
  check(isMessage(result.message), 'accepted an ill-formed message', encoded);
  const again = parse(encoded, roomy);
  check(again.ok && encodeFrame(again.message) === encoded, 'not a fixed point of encode -> parse', encoded);
}

const expectServerVerdict = (result: ParseResult<ServerMessage>) =>
  expectVerdict(result, isServerMessage, parseServerFrame);
const expectClientVerdict = (result: ParseResult<ClientMessage>) =>
  expectVerdict(result, isClientMessage, parseClientFrame);

function expectVerdicts(raw: unknown): void {
  generated++;
  expectServerVerdict(parseServerFrame(raw));
  expectClientVerdict(parseClientFrame(raw));
}

// ---- Valid messages, normalized, and their wire forms in both dialects. ----

const idArb = fc.oneof(
  { weight: 9, arbitrary: fc.string({ minLength: 1, maxLength: 12 }) },
  fc.constantFrom('__proto__', 'toString', 'x'.repeat(128)),
);
const jsonArb: fc.Arbitrary<JsonValue> = fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<JsonValue>;
const descriptionArb = fc.record({
  type: fc.constantFrom('offer' as const, 'answer' as const),
  sdp: fc.string({ minLength: 1, maxLength: 40 }),
});
const candidateArb = fc.option(
  fc
    .record(
      {
        candidate: fc.string({ maxLength: 40 }),
        sdpMid: fc.option(fc.string({ maxLength: 4 })),
        sdpMLineIndex: fc.option(fc.integer({ min: 0, max: 65535 })),
        usernameFragment: fc.option(fc.string({ maxLength: 8 })),
      },
      { requiredKeys: ['candidate'] },
    )
    .filter((candidate) => candidate.candidate === '' || candidate.sdpMid != null || candidate.sdpMLineIndex != null),
);

const hostArb = fc.oneof(
  fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,30}$/),
  fc.ipV4(),
  fc.ipV6().map((address) => `[${address}]`),
);
const iceServerArb: fc.Arbitrary<IceServer> = fc
  .tuple(
    fc.boolean(),
    fc.array(
      fc
        .tuple(fc.constantFrom('stun', 'stuns'), hostArb, fc.option(fc.integer({ min: 1, max: 65535 })))
        .map(([scheme, host, port]) => `${scheme}:${host}${port === null ? '' : `:${port}`}`),
      { minLength: 1, maxLength: 4 },
    ),
    fc.array(
      fc
        .tuple(
          fc.constantFrom('turn', 'turns'),
          hostArb,
          fc.option(fc.integer({ min: 1, max: 65535 })),
          fc.constantFrom('', '?transport=udp', '?transport=tcp'),
        )
        .map(([scheme, host, port, query]) => `${scheme}:${host}${port === null ? '' : `:${port}`}${query}`),
      { minLength: 1, maxLength: 4 },
    ),
    fc.string({ minLength: 1, maxLength: 60 }),
    fc.string({ minLength: 1, maxLength: 40 }),
  )
  .map(([turn, stun, relays, username, credential]): IceServer => {
    if (!turn) return { urls: stun.length === 1 && username.length % 2 ? (stun[0] as string) : stun };
    return { urls: relays, username, credential };
  });
const iceServersArb = fc.option(fc.array(iceServerArb, { maxLength: 3 }), { nil: undefined });

const joinedArb = fc
  .tuple(
    idArb,
    fc.uniqueArray(fc.tuple(idArb, fc.option(jsonArb)), { selector: ([peer]) => peer, maxLength: 5 }),
    fc.option(jsonArb),
    fc.option(fc.string({ minLength: 1, maxLength: 20 })),
    fc.option(fc.record({ token: idArb, window_ms: fc.nat() })),
    iceServersArb,
  )
  .map(([clientId, entries, own, pool, resume, iceServers]): ServerMessage => {
    const known = entries.filter(([peer]) => peer !== clientId);
    const descriptions: Record<string, JsonValue> = Object.create(null);
    for (const [peer, description] of known) descriptions[peer] = description;
    if (own !== null) descriptions[clientId] = own;
    const data: JoinedData = { client_id: clientId, peers: known.map(([peer]) => peer), descriptions, pool };
    if (resume) data.resume = resume;
    if (iceServers) data.ice_servers = iceServers;
    return { type: 'rtc:joined', data };
  });

const serverMessageArb: fc.Arbitrary<ServerMessage> = fc.oneof(
  joinedArb,
  idArb.map((id): ServerMessage => ({ type: 'rtc:peer', data: { id } })),
  fc.record({ peer: idArb, description: descriptionArb }).map((data): ServerMessage => ({ type: 'rtc:sdp', data })),
  fc.record({ from: idArb, candidate: candidateArb }).map((data): ServerMessage => ({ type: 'rtc:candidate', data })),
  idArb.map((id): ServerMessage => ({ type: 'rtc:close', data: { id } })),
  fc.constant<ServerMessage>({ type: 'rtc:stop', data: {} }),
  fc.record({ id: idArb, description: jsonArb }).map((data): ServerMessage => ({ type: 'rtc:describe', data })),
  fc
    .record(
      { message: fc.string({ maxLength: 30 }), reason: fc.string({ maxLength: 10 }) },
      { requiredKeys: ['message'] },
    )
    .map((data): ServerMessage => ({ type: 'rtc:error', data })),
  fc.tuple(fc.record({ client_id: idArb, received: fc.nat() }), iceServersArb).map(
    ([data, iceServers]): ServerMessage => ({
      type: 'rtc:resumed',
      data: iceServers ? { ...data, ice_servers: iceServers } : data,
    }),
  ),
);

const clientMessageArb: fc.Arbitrary<ClientMessage> = fc.oneof(
  fc.string({ minLength: 1, maxLength: 20 }).map((pool): ClientMessage => ({ type: 'rtc:join', data: { pool } })),
  fc.record({ to: idArb, description: descriptionArb }).map((data): ClientMessage => ({ type: 'rtc:sdp', data })),
  fc.record({ for: idArb, candidate: candidateArb }).map((data): ClientMessage => ({ type: 'rtc:candidate', data })),
  fc
    .record({ id: idArb, token: idArb, received: fc.nat() })
    .map((data): ClientMessage => ({ type: 'rtc:resume', data })),
);

const pick = <T>(choice: number, options: readonly T[]): T => options[choice % options.length] as T;

/** The same message as a version 1 server (PyRTC 1.x, or one half-way to v2) could have sent it. */
function legacyFrame(message: ServerMessage, choice: number): { type: string; data: Plain } {
  switch (message.type) {
    case 'rtc:joined': {
      const { client_id, peers, descriptions, pool, resume, ice_servers } = message.data;
      const given = Object.fromEntries(
        Object.entries(descriptions).filter(([key, value]) => !(value === null && peers.includes(key))),
      );
      const data: Plain = { client_id, peers };
      if (Object.keys(given).length > 0 || choice % 2) data.descriptions = given;
      if (pool !== null) data.pool = pool;
      if (resume) data.resume = resume;
      if (ice_servers) data.ice_servers = ice_servers;
      return { type: message.type, data };
    }
    case 'rtc:peer': {
      const key = pick(choice, ['for', 'id', 'uid']);
      return { type: 'rtc:request_offers', data: { [key]: message.data.id } };
    }
    case 'rtc:sdp': {
      const { peer, description } = message.data;
      const sender = pick(choice, ['for', 'peer', 'from']);
      const field = pick(choice >> 2, [description.type, 'description']);
      return { type: `rtc:${description.type}`, data: { [sender]: peer, [field]: description } };
    }
    case 'rtc:close':
    case 'rtc:describe': {
      const { id, ...rest } = message.data;
      return { type: message.type, data: choice % 2 ? { ...rest, uid: id } : { ...rest, id, uid: id } };
    }
    default:
      return { type: message.type, data: { ...message.data } };
  }
}

// ---- Mutations of valid frames. ----

/** Every place in a frame where a value sits, as [container, key]; arrays are indexed by string keys too. */
type Slot = [Plain, string];
function slots(value: unknown, found: Slot[] = []): Slot[] {
  if (Array.isArray(value) || isPlain(value)) {
    const container = value as Plain;
    for (const key of Object.keys(container)) {
      found.push([container, key]);
      slots(container[key], found);
    }
  }
  return found;
}

const eventTypes = [
  'rtc:joined',
  'rtc:peer',
  'rtc:request_offers',
  'rtc:sdp',
  'rtc:offer',
  'rtc:answer',
  'rtc:candidate',
  'rtc:close',
  'rtc:stop',
  'rtc:describe',
  'rtc:error',
  'rtc:resumed',
  'rtc:join',
  'rtc:resume',
  'rtc:dance',
  'toString',
  '',
];

interface Mutation {
  kind: 'replace' | 'copy' | 'nest' | 'delete' | 'add' | 'truncate' | 'poke' | 'retype';
  at: number;
  value: unknown;
  char: string;
  type: string;
}

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('replace', 'copy', 'nest', 'delete', 'add', 'truncate', 'poke', 'retype'),
  at: fc.nat(),
  value: fc.oneof(
    fc.anything(),
    fc.jsonValue(),
    fc.string({ maxLength: 200 }),
    fc.constantFrom(null, '', 0, -1, 1.5, [], {}),
  ),
  char: fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }),
  type: fc.constantFrom(...eventTypes),
});

function mutate(frame: unknown, mutation: Mutation): unknown {
  const copy: unknown = JSON.parse(JSON.stringify(frame));
  const text = JSON.stringify(copy);
  const found = slots(copy);
  const [parent, key] = found[mutation.at % Math.max(found.length, 1)] ?? [{}, 'x'];
  switch (mutation.kind) {
    case 'replace':
      parent[key] = mutation.value;
      return copy;
    case 'copy': {
      // Another slot's value: duplicates peers, swaps ids, puts an answer where an offer belongs.
      const [source, sourceKey] = found[Math.floor(mutation.at / 7) % Math.max(found.length, 1)] ?? [{}, 'x'];
      parent[key] = source[sourceKey];
      return copy;
    }
    case 'nest': {
      // Around the depth limit of descriptions: 28 to 36 levels of arrays and objects.
      let value = parent[key];
      for (let level = 0; level < 28 + (mutation.at % 9); level++) value = level % 2 ? [value] : { level: value };
      parent[key] = value;
      return copy;
    }
    case 'delete':
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
      return copy;
    case 'add':
      if (isPlain(parent)) parent[`extra${mutation.at}`] = mutation.value;
      return copy;
    case 'truncate':
      return text.slice(0, mutation.at % (text.length + 1));
    case 'poke': {
      const at = mutation.at % text.length;
      return text.slice(0, at) + mutation.char + text.slice(at + 1);
    }
    case 'retype':
      return { ...(copy as Plain), type: mutation.type };
  }
}

// ---- The properties. Runs add up to 26,000 generated frames. ----

describe('fuzzing: the parsers never throw and answer a valid message or a SignallingError', () => {
  test('arbitrary JSON values as text (4,000)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => expectVerdicts(JSON.stringify(value))),
      params(4_000),
    );
  });

  test('arbitrary strings (3,000)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme', maxLength: 400 })),
        (text) => expectVerdicts(text),
      ),
      params(3_000),
    );
  });

  test('arbitrary values, as frames and as data of every event (4,000)', () => {
    fc.assert(
      fc.property(fc.anything(), fc.constantFrom(...eventTypes), (value, type) => {
        expectVerdicts(value);
        expectServerVerdict(parseServerEvent(type, value));
        expectClientVerdict(parseClientEvent(type, value));
        expectVerdicts({ type, data: value });
      }),
      params(4_000),
    );
  });

  test('valid server frames with one thing broken (7,000)', () => {
    const frames = fc.oneof(
      serverMessageArb,
      fc.tuple(serverMessageArb, fc.nat()).map(([message, choice]) => legacyFrame(message, choice)),
    );
    fc.assert(
      fc.property(frames, mutationArb, (frame, mutation) => expectVerdicts(mutate(frame, mutation))),
      params(7_000),
    );
  });

  test('valid client frames with one thing broken (2,000)', () => {
    fc.assert(
      fc.property(clientMessageArb, mutationArb, (frame, mutation) => expectVerdicts(mutate(frame, mutation))),
      params(2_000),
    );
  });
});

describe('fuzzing: frame size', () => {
  test('is decided on the exact UTF-8 length, lone surrogates included (1,000)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀', '\ud800', '\udc00'), maxLength: 60 }),
        (text) => {
          generated++;
          const bytes = new TextEncoder().encode(text).length;
          const codeWithin = (maxFrameBytes: number) => {
            const result = parseServerFrame(text, { maxFrameBytes });
            return result.ok ? 'ok' : result.error.code;
          };
          check(codeWithin(bytes) !== 'frame-too-large', 'refused at its own size', text);
          check(bytes === 0 || codeWithin(bytes - 1) === 'frame-too-large', 'accepted one byte under its size', text);
        },
      ),
      params(1_000),
    );
  });
});

describe('fuzzing: valid frames in either dialect parse to the message they encode', () => {
  test('server messages, version 2 and version 1 spellings (2 x 2,000)', () => {
    fc.assert(
      fc.property(serverMessageArb, fc.nat(), (message, choice) => {
        generated += 2;
        const v2 = parseServerFrame(encodeFrame(message));
        expect(v2.ok && wire(v2.message)).toEqual(wire(message));
        const v1 = parseServerFrame(JSON.stringify(legacyFrame(message, choice)));
        expect(v1.ok && wire(v1.message)).toEqual(wire(message));
      }),
      params(2_000),
    );
  });

  test('client messages (2,000)', () => {
    fc.assert(
      fc.property(clientMessageArb, (message) => {
        generated++;
        const parsed = parseClientFrame(encodeFrame(message));
        expect(parsed.ok && wire(parsed.message)).toEqual(wire(message));
      }),
      params(2_000),
    );
  });

  test('at least 20,000 frames were generated, and both verdicts were common', () => {
    if (process.env.RTCPOOL_PROPERTY_SEED) return;
    expect(generated).toBeGreaterThanOrEqual(20_000);
    for (const outcome of ['ok', 'malformed-frame', 'unknown-event', 'invalid-field']) {
      expect(outcomes.get(outcome), JSON.stringify([...outcomes])).toBeGreaterThan(1_000);
    }
  });
});
