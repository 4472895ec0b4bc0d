/**
 * The ICE servers the signalling server hands each endpoint (`ice_servers`
 * in `rtc:joined` and `rtc:resumed`): its STUN URLs as they are, and its
 * TURN URLs with credentials minted for that endpoint by the TURN REST
 * scheme that coturn's `use-auth-secret` checks: username
 * `<unix expiry seconds>:<endpoint id>`, credential the base64 HMAC-SHA1 of
 * the username under the secret shared with the TURN server. The secret
 * stays in the closure {@link iceServerMinter} returns: it is never sent,
 * logged or kept in the hub's options.
 */
import { createHmac } from 'node:crypto';
import { type IceServer, isIceServerUrl, isTurnUrl, PROTOCOL_LIMITS } from '../protocol/index.js';

/** TURN servers that check TURN REST credentials against a secret shared with this server. */
export interface TurnOptions {
  /** `turn:` or `turns:` URLs, e.g. `turn:turn.example.org:3478?transport=udp`. At least one. */
  urls: readonly string[];
  /** The secret shared with the TURN server (coturn's `static-auth-secret`). Never sent to a client or logged. */
  secret: string;
  /** How long each minted credential is valid, in seconds (default 86,400: a day). */
  ttlSeconds?: number;
}

/** The ICE servers the server hands each endpoint in `rtc:joined` and `rtc:resumed`. */
export interface IceServersOptions {
  /** `stun:` or `stuns:` URLs, sent as they are. */
  stun?: readonly string[];
  /** TURN URLs, sent with credentials minted per endpoint (and afresh on every resume). */
  turn?: TurnOptions;
}

/** Default lifetime of a minted TURN credential, in seconds: a day, so that a day-long call keeps its relay. */
export const DEFAULT_TURN_TTL_SECONDS = 86_400;

/** Mints the ICE servers for one endpoint id. */
export type IceServerMinter = (endpointId: string) => IceServer[];

/**
 * TURN REST credentials (draft-uberti-behave-turn-rest, as coturn's
 * `use-auth-secret` checks them) for `name`, valid until `expiresAt` (unix seconds).
 *
 * @example
 * turnCredentials('s3cret', 'alice', 1_700_000_000);
 * // { username: '1700000000:alice', credential: base64(HMAC-SHA1('s3cret', '1700000000:alice')) }
 */
export function turnCredentials(
  secret: string,
  name: string,
  expiresAt: number,
): { username: string; credential: string } {
  const username = `${expiresAt}:${name}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

function checkUrls(urls: unknown, option: string, turn: boolean): string[] {
  const max = PROTOCOL_LIMITS.maxIceServerUrls;
  if (!Array.isArray(urls) || urls.length > max || (turn && urls.length === 0)) {
    throw new TypeError(`${option}: an array of ${turn ? '1' : '0'} to ${max} URLs`);
  }
  const schemes = turn ? 'turn: or turns:' : 'stun: or stuns:';
  for (let index = 0; index < urls.length; index++) {
    const url: unknown = urls[index];
    if (typeof url !== 'string' || !isIceServerUrl(url) || isTurnUrl(url) !== turn) {
      // Not quoted: a value in the wrong place (a secret given as a URL) must not reach a log.
      throw new TypeError(
        `${option}[${index}]: not a ${schemes} URL (${turn ? 'turn' : 'stun'}:host[:port]${turn ? '[?transport=udp|tcp]' : ''}, at most ${PROTOCOL_LIMITS.maxIceServerUrlLength} characters)`,
      );
    }
  }
  return [...(urls as string[])];
}

/**
 * Checks the `iceServers` option (a TypeError for a bad URL, an empty
 * secret, a bad TTL; never quoting the secret) and returns what mints each
 * endpoint's ICE servers, or undefined when there are none to hand out.
 * `clock` is the wall clock in milliseconds (`Date.now`): TURN servers
 * compare the expiry with theirs.
 */
export function iceServerMinter(
  options: IceServersOptions | undefined,
  clock: () => number = () => Date.now(),
): IceServerMinter | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) throw new TypeError('iceServers: an object { stun?, turn? }');
  const stun = options.stun === undefined ? [] : checkUrls(options.stun, 'iceServers.stun', false);
  const turn = options.turn;
  if (turn !== undefined && (typeof turn !== 'object' || turn === null)) {
    throw new TypeError('iceServers.turn: an object { urls, secret, ttlSeconds? }');
  }
  const turnUrls = turn === undefined ? [] : checkUrls(turn.urls, 'iceServers.turn.urls', true);
  const secret = turn?.secret;
  if (turn !== undefined && (typeof secret !== 'string' || secret.length === 0)) {
    throw new TypeError('iceServers.turn.secret: a non-empty string (the TURN server static-auth-secret)');
  }
  const ttl = turn?.ttlSeconds ?? DEFAULT_TURN_TTL_SECONDS;
  if (!Number.isSafeInteger(ttl) || ttl < 1) throw new TypeError('iceServers.turn.ttlSeconds: a positive integer');
  if (stun.length === 0 && turnUrls.length === 0) return undefined;
  return (endpointId) => {
    const servers: IceServer[] = stun.length > 0 ? [{ urls: [...stun] }] : [];
    if (secret !== undefined && turnUrls.length > 0) {
      const expiresAt = Math.floor(clock() / 1000) + ttl;
      servers.push({ urls: [...turnUrls], ...turnCredentials(secret, endpointId, expiresAt) });
    }
    return servers;
  };
}

/** The option without its secret: what a start line or a log may show. */
export function describeIceServers(options: IceServersOptions | undefined): {
  stun: string[];
  turn: string[];
  ttlSeconds?: number;
} {
  const described: { stun: string[]; turn: string[]; ttlSeconds?: number } = {
    stun: [...(options?.stun ?? [])],
    turn: [...(options?.turn?.urls ?? [])],
  };
  if (options?.turn) described.ttlSeconds = options.turn.ttlSeconds ?? DEFAULT_TURN_TTL_SECONDS;
  return described;
}
