/**
 * ICE servers as the signalling server hands them out (`ice_servers` in
 * `rtc:joined` and `rtc:resumed`): which URLs are accepted, and the strict
 * validator the parser runs on them. The server checks its own options with
 * the same {@link isIceServerUrl}, so it never sends what a client refuses.
 */
import { type Fields, InvalidField, isFields, own, string } from './fields.js';
import { type IceServer, PROTOCOL_LIMITS as limits } from './messages.js';

/**
 * `stun:host[:port]`, `stuns:host[:port]` (RFC 7064), `turn:host[:port][?transport=udp|tcp]`,
 * `turns:...` (RFC 7065). The host is a name, an IPv4 address or an IPv6 address in brackets.
 */
const ICE_SERVER_URL =
  /^(stuns?|turns?):(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?(\?transport=(?:udp|tcp))?$/;

/**
 * Whether `url` is an ICE server URL this protocol carries: a `stun:`,
 * `stuns:`, `turn:` or `turns:` URL (lowercase scheme; `?transport=` on
 * TURN URLs only) of at most `PROTOCOL_LIMITS.maxIceServerUrlLength` characters.
 *
 * @example
 * isIceServerUrl('turn:turn.example.org:3478?transport=udp'); // true
 * isIceServerUrl('https://turn.example.org'); // false
 */
export function isIceServerUrl(url: string): boolean {
  if (url.length > limits.maxIceServerUrlLength) return false;
  const match = ICE_SERVER_URL.exec(url);
  if (!match) return false;
  const [, scheme = '', , port, query] = match;
  if (query !== undefined && !scheme.startsWith('turn')) return false;
  return port === undefined || (Number(port) >= 1 && Number(port) <= 65535);
}

/** Whether `url` names a TURN server (`turn:` or `turns:`): one that needs a username and a credential. */
export function isTurnUrl(url: string): boolean {
  return url.startsWith('turn:') || url.startsWith('turns:');
}

const URL_EXPECTED = `a stun:, stuns:, turn: or turns: URL of at most ${limits.maxIceServerUrlLength} characters`;

function iceServer(value: unknown, field: string): IceServer {
  if (!isFields(value)) throw new InvalidField(field, 'an object { urls, username?, credential? }');
  const given = own(value, 'urls');
  const single = typeof given === 'string';
  const list: unknown[] | undefined = single ? [given] : Array.isArray(given) ? given : undefined;
  if (!list || list.length === 0 || list.length > limits.maxIceServerUrls) {
    throw new InvalidField(`${field}.urls`, `a URL or a non-empty array of at most ${limits.maxIceServerUrls} URLs`);
  }
  const urls: string[] = [];
  // An index loop: a sparse array's holes are refused, not skipped.
  for (let i = 0; i < list.length; i++) {
    const url = list[i];
    if (typeof url !== 'string' || !isIceServerUrl(url)) {
      throw new InvalidField(single ? `${field}.urls` : `${field}.urls[${i}]`, URL_EXPECTED);
    }
    urls.push(url);
  }
  const turn = urls.some(isTurnUrl);
  const server: IceServer = { urls: single ? (urls[0] as string) : urls };
  for (const key of ['username', 'credential'] as const) {
    const secret = own(value as Fields, key);
    if (secret == null) {
      // RTCPeerConnection throws InvalidAccessError for a TURN URL without both (WebRTC 1.0, 4.4.1.1).
      if (turn) throw new InvalidField(`${field}.${key}`, 'given with a turn: or turns: URL');
      continue;
    }
    server[key] = string(secret, `${field}.${key}`, limits.maxIceCredentialLength, turn ? 1 : 0);
  }
  return server;
}

/**
 * A copy of an `ice_servers` list if every entry is valid: at most
 * `maxIceServers` entries of 1 to `maxIceServerUrls` URLs each, only the
 * fields of {@link IceServer}. Throws {@link InvalidField} otherwise: one bad
 * entry refuses the whole frame, as any other invalid field does.
 */
export function iceServers(value: unknown, field: string): IceServer[] {
  if (!Array.isArray(value) || value.length > limits.maxIceServers) {
    throw new InvalidField(field, `an array of at most ${limits.maxIceServers} ICE servers`);
  }
  const servers: IceServer[] = [];
  for (let i = 0; i < value.length; i++) servers.push(iceServer(value[i], `${field}[${i}]`));
  return servers;
}
