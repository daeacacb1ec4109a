import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

import ipaddr from 'ipaddr.js';

/**
 * Where a webhook may point. Checked at registration (the URL's host, and
 * every address its name resolves to now) and again at connect time by
 * `request-filtering-agent` (src/modules/webhooks/attempt.ts), which refuses
 * any address but a public unicast one after each DNS lookup, so a name that
 * later resolves somewhere private (DNS rebinding) still fails.
 *
 * Refused: loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7 incl.
 * fd00::/8), link-local (169.254/16 with the cloud metadata address, fe80::/10),
 * carrier-grade NAT (100.64/10), multicast, broadcast, unspecified, reserved and
 * documentation ranges, and IPv6 forms that embed an IPv4 address (6to4,
 * Teredo, NAT64); an IPv4-mapped IPv6 address is judged by its IPv4 address.
 */

/** Why a target is refused, for the owner's userError; `undefined` when it may be used. */
export function refusedAddress(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return 'is not an IP address';
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) parsed = v6.toIPv4Address();
  }
  const range = parsed.range();
  return range === 'unicast' ? undefined : `is a ${range} address`;
}

export interface TargetCheckOptions {
  /** Plain http:// accepted (development and tests only). */
  allowHttp: boolean;
  /** Private and loopback targets accepted (`WEBHOOK_ALLOW_PRIVATE_TARGETS`, refused in production). */
  allowPrivate: boolean;
  /** Resolves a name to its addresses; defaults to the system resolver. */
  resolve?: (host: string) => Promise<string[]>;
}

export const MAX_URL_LENGTH = 2048;

async function systemResolve(host: string): Promise<string[]> {
  const found = await lookup(host, { all: true, verbatim: true });
  return found.map((entry) => entry.address);
}

/** The URL's problem in words, or `undefined` when it may receive webhooks. */
export async function checkTargetUrl(raw: string, options: TargetCheckOptions): Promise<string | undefined> {
  if (raw.length > MAX_URL_LENGTH) return `The URL is longer than ${MAX_URL_LENGTH} characters.`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'Enter an absolute https:// URL.';
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && options.allowHttp)) return 'The URL must use https://.';
  if (url.username !== '' || url.password !== '') return 'The URL must not carry a user name or password.';
  if (url.hash !== '') return 'The URL must not have a #fragment.';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (options.allowPrivate) return undefined;
  if (isIP(host) !== 0) {
    const why = refusedAddress(host);
    return why ? `The host ${host} ${why}; webhooks go to public addresses only.` : undefined;
  }
  let addresses: string[];
  try {
    addresses = await (options.resolve ?? systemResolve)(host);
  } catch {
    return `The host ${host} does not resolve.`;
  }
  if (addresses.length === 0) return `The host ${host} does not resolve.`;
  for (const address of addresses) {
    const why = refusedAddress(address);
    if (why) return `The host ${host} resolves to ${address}, which ${why}; webhooks go to public addresses only.`;
  }
  // Names that only mean something on one machine or network, whatever they resolve to now.
  if (host.endsWith('.localhost') || host.endsWith('.local') || host.endsWith('.internal') || !host.includes('.')) {
    return `The host ${host} is not a public name; webhooks go to public addresses only.`;
  }
  return undefined;
}
