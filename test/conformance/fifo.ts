// A named pipe (FIFO) as a pair of fds: Node has no os.pipe(), and a FIFO
// gives the same kind of fd. The read end is opened first, non-blocking, so
// that opening the write end does not block.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { closeSync, constants, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Fifo {
  /** The FIFO's path (removed by dispose()). */
  path: string;
  readFd: number;
  writeFd: number;
  /** Reads what is there now (non-blocking); empty if nothing. */
  readNow(): Buffer;
  /** Closes whichever ends are still open here and removes the FIFO. */
  dispose(): void;
  closeRead(): void;
  closeWrite(): void;
}

function fifoPath(): string {
  return join(tmpdir(), `asyncuv-fifo-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
}

/**
 * Makes a FIFO without blocking the thread while mkfifo runs. Tests start
 * together, so a synchronous spawn per test (execFileSync) kept the event
 * loop away for seconds on a loaded machine (under ASan, more than the 20 s
 * hang bound of a test waiting on setImmediate), and a case that was not
 * slow at all failed.
 */
export async function makeFifo(): Promise<Fifo> {
  const path = fifoPath();
  await promisify(execFile)('mkfifo', [path]);
  return openFifo(path);
}

function openFifo(path: string): Fifo {
  let readFd: number | undefined = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  let writeFd: number | undefined = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  return {
    path,
    readFd,
    writeFd,
    readNow() {
      const buf = Buffer.alloc(65536);
      try {
        return buf.subarray(0, readSync(readFd!, buf));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return Buffer.alloc(0);
        throw err;
      }
    },
    closeRead() {
      if (readFd !== undefined) closeSync(readFd);
      readFd = undefined;
    },
    closeWrite() {
      if (writeFd !== undefined) closeSync(writeFd);
      writeFd = undefined;
    },
    dispose() {
      this.closeRead();
      this.closeWrite();
      rmSync(path, { force: true });
    },
  };
}
