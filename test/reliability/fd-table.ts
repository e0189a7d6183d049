// Descriptor counting for the reliability tests: /proc/self/fd as a count
// and as a table, and the difference between two tables.
import { readdirSync, readlinkSync } from 'node:fs';

/** How many descriptors this process has open (entries of /proc/self/fd, minus the one readdir uses). */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length - 1;
}

/**
 * The descriptor count once it is back to `target`, or what it is after
 * `ms`: the far ends of closed connections close a little later.
 */
export async function settledFdCount(target: number, ms = 5000): Promise<number> {
  const deadline = Date.now() + ms;
  while (fdCount() !== target && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return fdCount();
}

/**
 * The descriptor count once it has held still for 100 ms (at most `ms`):
 * a baseline taken after a warm-up cycle, whose far ends close a little
 * later.
 */
export async function quietFdCount(ms = 2000): Promise<number> {
  const deadline = Date.now() + ms;
  let last = fdCount();
  let still = 0;
  while (still < 5 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const now = fdCount();
    still = now === last ? still + 1 : 0;
    last = now;
  }
  return last;
}

/** fd -> what it points at, for naming the fds a test left open. */
export function fdTable(): Map<string, string> {
  const table = new Map<string, string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      table.set(fd, readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // the directory's own fd, closed by now
    }
  }
  return table;
}

/** The entries of `after` that `before` lacks, as "fd -> target". */
export function fdDiff(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...after]
    .filter(([fd, target]) => before.get(fd) !== target)
    .map(([fd, target]) => `${fd} -> ${target}`);
}
