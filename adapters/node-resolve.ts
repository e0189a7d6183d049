// Host resolution for NodeEventLoop, on Node's own resolver (node:dns runs
// getaddrinfo on Node's threadpool). IP literals skip the resolver.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { ResolvedAddress } from '../loop/resolve.js';
import { toUvError } from './node-errors.js';

export async function resolveHost(host: string): Promise<ResolvedAddress[]> {
  const family = isIP(host);
  if (family !== 0) return [{ address: host, family: family as 4 | 6 }];
  let results;
  try {
    results = await lookup(host, { all: true, verbatim: true });
  } catch (err) {
    throw toUvError(err);
  }
  const seen = new Set<string>();
  const out: ResolvedAddress[] = [];
  for (const r of results) {
    if (seen.has(r.address)) continue;
    seen.add(r.address);
    out.push({ address: r.address, family: r.family === 6 ? 6 : 4 });
  }
  return out;
}
