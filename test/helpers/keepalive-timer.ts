// SO_KEEPALIVE as the kernel applies it, read back through ss(8) (Node has
// no getsockopt): for the tests of setKeepAlive on sockets of either kind.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** The keep-alive timer ss(8) shows for the connection from local `port`, in seconds, or null. */
export async function keepAliveTimer(port: number): Promise<number | null> {
  const args = ['-tnoH', 'state', 'established', `( sport = :${port} )`];
  const { stdout } = await promisify(execFile)('ss', args);
  // iproute2 6.1 prints the remaining time as e.g. 'keepalive,9.876ms' for
  // 9.876 s: only the number is read.
  const match = /timer:\(keepalive,(?:(\d+)min)?([\d.]+)/.exec(stdout);
  if (match === null) return null;
  return Number(match[1] ?? 0) * 60 + Number(match[2]);
}
