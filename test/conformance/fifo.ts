// A named pipe (FIFO) as a pair of fds: Node has no os.pipe(), and a FIFO
// gives the same kind of fd. The read end is opened first, non-blocking, so
// that opening the write end does not block.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Fifo {
  readFd: number;
  writeFd: number;
  /** Reads what is there now (non-blocking); empty if nothing. */
  readNow(): Buffer;
  /** Closes whichever ends are still open here and removes the FIFO. */
  dispose(): void;
  closeRead(): void;
  closeWrite(): void;
}

export function makeFifo(): Fifo {
  const path = join(tmpdir(), `asyncuv-fifo-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  execFileSync('mkfifo', [path]);
  let readFd: number | undefined = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  let writeFd: number | undefined = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  return {
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
