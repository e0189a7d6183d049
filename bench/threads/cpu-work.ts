// The CPU work of the threaded-server benchmarks' handlers, so that the
// server, not the load generator, is what runs out of CPU: `rounds` chained
// SHA-256 digests over the message (about 6 us each here). The same
// function runs in asyncuv's threads and in cluster's processes.
import { createHash } from 'node:crypto';

/** Rounds per message or request, from ASYNCUV_BENCH_WORK_ROUNDS (0: none). */
export const workRounds = Number(process.env['ASYNCUV_BENCH_WORK_ROUNDS'] ?? 0);

export function burn(data: Uint8Array, rounds = workRounds): Buffer | undefined {
  let digest: Buffer | undefined;
  for (let i = 0; i < rounds; i++) {
    const hash = createHash('sha256');
    if (digest !== undefined) hash.update(digest);
    digest = hash.update(data).digest();
  }
  return digest;
}
