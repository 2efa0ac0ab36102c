/**
 * The SSRF guard of webhooks, in two steps. At enqueue (`checkWebhookUrl`): the URL alone, no DNS
 * lookup on the request path. At delivery (`guardedLookup`): the name is resolved once, every
 * address checked (`isRefusedAddress`), and the connection goes to the checked address (the
 * lookup hook of the HTTP request), so a name that rebinds between check and connect cannot
 * slip through. `allowPrivate` (HITA_WEBHOOK_ALLOW_PRIVATE) lifts both.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { errors } from '../errors.js';

/** The longest webhook URL accepted. */
export const MAX_WEBHOOK_URL_LENGTH = 2048;

/**
 * Checks a webhook URL without resolving it: http(s) only, no userinfo, and a host that is
 * neither an IP literal nor localhost / `*.localhost`.
 * @returns the URL as given
 * @throws AppError BAD_USER_INPUT on `webhook.url`
 */
export function checkWebhookUrl(url: string, allowPrivate: boolean): string {
  const refuse = (why: string): never => {
    throw errors.badInput('webhook.url', why);
  };
  if (url.length > MAX_WEBHOOK_URL_LENGTH) refuse(`at most ${MAX_WEBHOOK_URL_LENGTH} characters`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return refuse('expected an absolute http(s) URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') refuse('http(s) only');
  if (parsed.username !== '' || parsed.password !== '') refuse('no user or password in the URL');
  if (allowPrivate) return url;
  const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(host) !== 0) refuse('a host name, not an IP address');
  const name = host.replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) refuse('not a local host name');
  return url;
}

/** [first address, prefix length] of each refused IPv4 range. */
const REFUSED_V4: readonly [number[], number][] = [
  [[0, 0, 0, 0], 8], // "this network", unspecified
  [[10, 0, 0, 0], 8],
  [[100, 64, 0, 0], 10], // carrier-grade NAT
  [[127, 0, 0, 0], 8], // loopback
  [[169, 254, 0, 0], 16], // link-local, cloud metadata
  [[172, 16, 0, 0], 12],
  [[192, 168, 0, 0], 16],
  [[224, 0, 0, 0], 4], // multicast
  [[240, 0, 0, 0], 4], // reserved, broadcast
];

function inRange(bytes: number[], start: number[], bits: number): boolean {
  for (let i = 0; i < start.length; i++) {
    const take = Math.min(8, Math.max(0, bits - i * 8));
    const mask = take === 0 ? 0 : (0xff << (8 - take)) & 0xff;
    if (((bytes[i] ?? 0) & mask) !== ((start[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** An IPv6 address as 16 bytes (`::`, and a dotted IPv4 tail, allowed); null if malformed. */
function ipv6Bytes(address: string): number[] | null {
  let text = address.replace(/%.*$/, ''); // a zone id says nothing about the range
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let v4: number[] = [];
  if (tail?.[1]) {
    v4 = tail[1].split('.').map(Number);
    text = text.slice(0, -tail[1].length) + '0:0';
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const words = (part: string | undefined) => (part ? part.split(':') : []);
  const head = words(halves[0]);
  const rest = words(halves[1]);
  const fill = halves.length === 2 ? 8 - head.length - rest.length : 0;
  const all = [...head, ...Array<string>(Math.max(0, fill)).fill('0'), ...rest];
  if (all.length !== 8) return null;
  const bytes = all.flatMap((word) => {
    const n = parseInt(word, 16);
    return [(n >> 8) & 0xff, n & 0xff];
  });
  if (v4.length === 4) bytes.splice(12, 4, ...v4);
  return bytes;
}

/**
 * True for an address a webhook must not reach: loopback, 10/8, 172.16/12, 192.168/16,
 * 100.64/10, 169.254/16, unspecified, multicast and reserved IPv4; ::, ::1, fc00::/7,
 * fe80::/10, ff00::/8; and IPv4-mapped, -compatible and NAT64 forms of a refused IPv4 address.
 * A string that is no IP address is refused too.
 */
export function isRefusedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) {
    const bytes = address.split('.').map(Number);
    return REFUSED_V4.some(([start, bits]) => inRange(bytes, start, bits));
  }
  if (family !== 6) return true;
  const bytes = ipv6Bytes(address);
  if (!bytes) return true;
  const zeros = (from: number, to: number) => bytes.slice(from, to).every((b) => b === 0);
  const v4 = bytes.slice(12).join('.');
  if (zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) return isRefusedAddress(v4);
  if (zeros(0, 12)) return true; // ::, ::1, and the deprecated IPv4-compatible ::a.b.c.d
  if (inRange(bytes, [0x00, 0x64, 0xff, 0x9b], 96) && zeros(4, 12)) return isRefusedAddress(v4);
  return inRange(bytes, [0xfc], 7) || inRange(bytes, [0xfe, 0x80], 10) || inRange(bytes, [0xff], 8);
}

/** The refusal of a delivery by address: a failed attempt that is not retried. */
export class RefusedAddressError extends Error {
  readonly code = 'WEBHOOK_ADDRESS_REFUSED';
  constructor(host: string, address: string) {
    super(`webhook host ${host} resolves to ${address}, a private or reserved address`);
  }
}

/** How names are resolved: node:dns `lookup` with `all: true`, or a stub in tests. */
export type Resolve = (host: string) => Promise<LookupAddress[]>;

const systemResolve: Resolve = (host) =>
  new Promise((done, fail) =>
    dnsLookup(host, { all: true, verbatim: true }, (error, addresses) =>
      error ? fail(error) : done(addresses),
    ),
  );

/**
 * A `lookup` for an HTTP request or agent: resolves once, refuses the whole name when any of its
 * addresses is refused (unless `allowPrivate`), and hands the connection the checked addresses
 * only. Errors with a RefusedAddressError.
 */
export function guardedLookup(
  allowPrivate: boolean,
  resolve: Resolve = systemResolve,
): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (found) => {
        const family = typeof options === 'object' ? options.family : undefined;
        const addresses = found.filter(
          (a) => !family || family === 0 || a.family === family || family === `IPv${a.family}`,
        );
        const refused = allowPrivate
          ? undefined
          : addresses.find((a) => isRefusedAddress(a.address));
        const first = addresses[0];
        if (refused) return callback(new RefusedAddressError(hostname, refused.address), '', 4);
        if (!first) {
          const error = Object.assign(new Error(`no address for ${hostname}`), {
            code: 'ENOTFOUND',
          });
          return callback(error, '', 4);
        }
        if (typeof options === 'object' && options.all) {
          return (callback as unknown as (e: null, all: LookupAddress[]) => void)(null, addresses);
        }
        return callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 4),
    );
  };
}
