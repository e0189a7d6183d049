// The subprocess transport over a handles/ Process and pipe transports for
// the child's stdin/stdout/stderr (asyncio's BaseSubprocessTransport).
// What every transport shares is in transport-base.ts, what both loops'
// subprocess transports share in subprocess-transport-base.ts.
import type { Pipe } from '../handles/pipe.js';
import type { Process } from '../handles/process.js';
import { StreamTransport } from './stream-transport.js';
import {
  SubprocessTransportBase,
  type SubprocessTransportOptions,
} from './subprocess-transport-base.js';

export interface UvSubprocessOptions extends SubprocessTransportOptions {
  /** The spawned child; its onExit must call the transport's onExit. */
  process: Process;
  /**
   * Our ends of the child's piped fds, by fd (pipes of ours, not the
   * Process's own, which would be socket pairs); the transport owns them.
   */
  pipes?: ReadonlyArray<Pipe | undefined>;
}

export class UvSubprocessTransport extends SubprocessTransportBase<Process> {
  readonly #process: Process;

  /** @internal UvEventLoop's subprocessExec/subprocessShell make these, once spawned. */
  constructor(opts: UvSubprocessOptions) {
    super({ ...opts, extra: { subprocess: opts.process } });
    this.#process = opts.process;
    const pipes = opts.process.stdio.slice(0, 3);
    opts.pipes?.forEach((pipe, fd) => {
      if (pipe !== undefined && fd < 3) pipes[fd] = pipe;
    });
    pipes.forEach((pipe, fd) => {
      if (pipe !== null) this.#pipe(pipe, fd);
    });
    this.scheduleStart('A subprocess transport');
  }

  #pipe(pipe: Pipe, fd: number): void {
    const protocol = this.pipeProtocol(fd);
    const transport = new StreamTransport({
      loop: this.loop,
      stream: pipe,
      protocol,
      extra: { pipe },
      reads: fd !== 0,
    });
    this.addPipe(fd, transport);
  }

  /** @internal The process exited: status, or the signal that ended it. */
  onExit(exitStatus: number, termSignal: number): void {
    if (this.exited(termSignal !== 0 ? -termSignal : exitStatus)) return;
    // Nobody reads the child's stdin any more. asyncio learns this from the
    // pipe's hang-up; libuv does not watch a write-only pipe, so close it
    // here (queued bytes, if any, then fail with EPIPE as they would there).
    this.getPipeTransport(0)?.close();
  }

  getPid(): number {
    return this.#process.pid;
  }

  protected running(): boolean {
    return this.getReturncode() === null && !this.#process.closed;
  }

  protected signal(signum: number): void {
    this.#process.kill(signum);
  }

  /** A child that was reaped releases its handle; a running one closes it once reaped (onExit). */
  protected releaseChild(): void {
    if (this.getReturncode() !== null && !this.#process.closed) this.#process.close();
  }
}
