// Descriptor counting for the reliability tests: /proc/self/fd as a count
// and as a table, and the difference between two tables.
import { readdirSync, readlinkSync } from 'node:fs';

/** How many descriptors this process has open (entries of /proc/self/fd, minus the one readdir uses). */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length - 1;
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
