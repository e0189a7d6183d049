// The kernel's keep-alive idle time, for the calls that set SO_KEEPALIVE
// through libuv: uv_tcp_keepalive takes an idle time and sets
// TCP_KEEPIDLE with the option, where asyncio (keep_alive=True) and
// net.Socket#setKeepAlive(true, 0) set the option alone.
import { readFileSync } from 'node:fs';

let kernelSec: number | undefined;

/** The kernel's idle time before the first keep-alive probe (Linux), else the usual 2 hours. */
export function kernelKeepAliveSec(): number {
  if (kernelSec === undefined) {
    try {
      const text = readFileSync('/proc/sys/net/ipv4/tcp_keepalive_time', 'utf8');
      kernelSec = Number.parseInt(text, 10) || 7200;
    } catch {
      kernelSec = 7200;
    }
  }
  return kernelSec;
}
