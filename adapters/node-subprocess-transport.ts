// NodeSubprocessTransport: asyncio's SubprocessTransport over a
// child_process.ChildProcess. What both loops' subprocess transports share
// is in loop/subprocess-transport-base.ts; each stdio pipe gets a
// NodeTransport.
import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Duplex } from 'node:stream';
import {
  SubprocessTransportBase,
  type SubprocessTransportOptions,
} from '../loop/subprocess-transport-base.js';
import { NodeTransport } from './node-transport.js';

/** The parent's ends of the child's pipes, by child fd (net.Sockets over pipes of ours). */
export type ChildPipes = Partial<Record<0 | 1 | 2, Duplex>>;

export interface NodeSubprocessOptions extends SubprocessTransportOptions {
  /** A child that has spawned (it has a pid). */
  child: ChildProcess;
  pipes: ChildPipes;
}

const signalNumbers = constants.signals as Record<string, number | undefined>;

export class NodeSubprocessTransport extends SubprocessTransportBase<ChildProcess> {
  readonly #child: ChildProcess;

  /** @internal NodeEventLoop.subprocessExec/subprocessShell make these. */
  constructor(opts: NodeSubprocessOptions) {
    super({ ...opts, extra: { subprocess: opts.child } });
    const child = opts.child;
    this.#child = child;
    child.on('exit', (code, signal) => {
      if (this.exited(code ?? -((signal !== null ? signalNumbers[signal] : undefined) ?? 0)))
        return;
      // Nobody reads the child's stdin any more. asyncio learns this from
      // the pipe's hang-up; the pipe is ours, not the ChildProcess's (which
      // destroys its own stdin at the exit), and a write-only pipe is
      // watched only while a write waits: close it here, as UvEventLoop
      // does (queued bytes, if any, then fail with EPIPE as they would there).
      this.getPipeTransport(0)?.close();
    });
    for (const fd of [0, 1, 2] as const) {
      const stream = opts.pipes[fd];
      if (stream === undefined) continue;
      const transport = new NodeTransport({
        loop: this.loop,
        stream,
        protocol: this.pipeProtocol(fd),
        extra: { pipe: stream },
        writable: fd === 0,
        readable: fd !== 0,
      });
      this.addPipe(fd, transport);
    }
    this.scheduleStart('A subprocess transport');
  }

  getPid(): number {
    return this.#child.pid!;
  }

  protected running(): boolean {
    const child = this.#child;
    return this.getReturncode() === null && child.exitCode === null && child.signalCode === null;
  }

  protected signal(signum: number): void {
    this.#child.kill(signum);
  }

  /** A ChildProcess holds nothing once reaped. */
  protected releaseChild(): void {}
}
