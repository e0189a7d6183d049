// Host resolution for connections and servers, on the loop's own libuv
// loop. IP literals skip the resolver; names go through getaddrinfo.
import { isIP } from 'node:net';
import * as dns from '../handles/dns.js';
import type { Loop } from '../handles/loop.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export async function resolveHost(loop: Loop, host: string, socktype: 'stream' | 'dgram' = 'stream'): Promise<ResolvedAddress[]> {
  const family = isIP(host);
  if (family !== 0) return [{ address: host, family: family as 4 | 6 }];
  const socktypeNumber = socktype === 'stream' ? dns.constants.SOCK_STREAM : dns.constants.SOCK_DGRAM;
  const results = await dns.getaddrinfo(loop, host, undefined, { socktype: socktypeNumber });
  const seen = new Set<string>();
  const out: ResolvedAddress[] = [];
  for (const r of results) {
    if (seen.has(r.address)) continue;
    seen.add(r.address);
    out.push({ address: r.address, family: r.family === 'IPv6' ? 6 : 4 });
  }
  return out;
}

/** The wildcard addresses a server with no host listens on. */
export const ANY_HOSTS: ResolvedAddress[] = [
  { address: '0.0.0.0', family: 4 },
  { address: '::', family: 6 },
];
