// asyncio's write pipe transport over a fifo or a socket learns that the
// reading end went away without writing anything: it watches its fd for
// reading, which a fifo's write end reports (as an error) once the last
// reader closed and a socket once its peer shut down, and then closes:
// connection_lost(None), or BrokenPipeError with bytes still queued (here
// that queued write fails with EPIPE by itself, and is the error). A
// terminal is not watched, as in asyncio. libuv watches a write-only pipe
// only while a write waits, and so does Node's net.Socket: a Poll watches
// a duplicate of the fd, since libuv keeps one watcher per fd and loop
// (UvEventLoop's pipe is on the loop the Poll is on).
import { closeSync, fstatSync } from 'node:fs';
import type { Loop } from '../handles/loop.js';
import { duplicateFd } from '../handles/pipe.js';
import { Poll } from '../handles/poll.js';
import type { WriteTransport } from './transports.js';

/** The watch: the transport's owner, told when the transport is gone; stops the watch. */
export interface ReaderWatch {
  detach(): void;
}

/**
 * Watches `fd` (a write pipe transport's, which keeps it open until the
 * owner returned is told the transport is gone) on `uvloop`, and calls
 * `readerGone` once the reading end has gone. Undefined for an fd that
 * is neither a fifo nor a socket: there is nothing to watch.
 */
export function watchReaderGone(
  uvloop: Loop,
  fd: number,
  readerGone: () => void,
): ReaderWatch | undefined {
  const stat = fstatSync(fd);
  if (!stat.isFIFO() && !stat.isSocket()) return undefined;
  const copy = duplicateFd(fd);
  let poll: Poll;
  try {
    poll = new Poll(uvloop, copy);
  } catch (err) {
    closeSync(copy);
    throw err;
  }
  let watching = true;
  const stop = (): void => {
    if (!watching) return;
    watching = false;
    poll.close(() => closeSync(copy));
  };
  // A fifo's write end reports the readers' end as an error (POLLERR), a
  // socket as the peer's shutdown (UV_DISCONNECT); bytes the peer of a
  // socket sends are not asked for.
  poll.start({ disconnect: true }, () => {
    if (!watching) return;
    stop();
    readerGone();
  });
  return { detach: stop };
}

/**
 * What a write pipe transport does once its reader has gone: with nothing
 * queued it closes (connectionLost(null)); a queued write fails with
 * EPIPE by itself and ends it with that error. Before the transport
 * exists (its connectionMade is scheduled), or once it is closing,
 * nothing.
 */
export function readerGone(transport: WriteTransport | undefined): void {
  if (transport === undefined || transport.isClosing()) return;
  if (transport.getWriteBufferSize() === 0) transport.close();
}
