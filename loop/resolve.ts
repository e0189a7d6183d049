// Host resolution for connections and servers. IP literals skip the
// resolver; names go through getaddrinfo.
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export async function resolveHost(host: string): Promise<ResolvedAddress[]> {
  const family = isIP(host);
  if (family !== 0) return [{ address: host, family: family as 4 | 6 }];
  const results = await lookup(host, { all: true, verbatim: true });
  return results.map((r) => ({ address: r.address, family: r.family as 4 | 6 }));
}

/** The wildcard addresses a server with no host listens on. */
export const ANY_HOSTS: ResolvedAddress[] = [
  { address: '0.0.0.0', family: 4 },
  { address: '::', family: 6 },
];
