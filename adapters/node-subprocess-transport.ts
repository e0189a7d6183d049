// NodeSubprocessTransport: asyncio's SubprocessTransport over a
// child_process.ChildProcess. Each stdio pipe gets a NodeTransport whose
// protocol forwards to the SubprocessProtocol with the child's fd number.
//
// Order (loop/protocols.ts): connectionMade -> pipeDataReceived* /
// pipeConnectionLost per pipe, processExited -> connectionLost, once the
// child has exited and every pipe is closed.
import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Duplex } from 'node:stream';
import { toSignalNumber } from '../errors/validate.js';
import type { BaseEventLoop } from '../loop/base-event-loop.js';
import { loopClosed } from '../loop/errors.js';
import { notifyLoopClosed, type Protocol, type SubprocessProtocol } from '../loop/protocols.js';
import { ExitWaiters } from '../loop/exit-waiters.js';
import type { ExtraInfoValue, ReadTransport, SubprocessExtraInfo, SubprocessTransport, WriteTransport } from '../loop/transports.js';
import { extraInfo } from '../loop/extra-info.js';
import { NodeTransport } from './node-transport.js';

/** The parent's ends of the child's pipes, by child fd. */
export type ChildPipes = Partial<Record<0 | 1 | 2, Duplex>>;

export class NodeSubprocessTransport implements SubprocessTransport {
  readonly #loop: BaseEventLoop;
  readonly #child: ChildProcess;
  readonly #protocol: SubprocessProtocol;
  readonly #pipes = new Map<number, NodeTransport>();
  readonly #openPipes = new Set<number>();
  #returncode: number | null = null;
  #closing = false;
  #lostCalled = false;
  readonly #waiters = new ExitWaiters();
  #untrack: () => void = () => {};

  /** `child` has spawned (it has a pid); connectionMade runs soon, then `ready`. */
  readonly #onGone: (() => void) | undefined;

  /** @internal NodeEventLoop.subprocessExec/subprocessShell make these. */
  constructor(loop: BaseEventLoop, child: ChildProcess, protocol: SubprocessProtocol, pipes: ChildPipes, ready: (err: Error | null) => void, onGone?: () => void) {
    this.#onGone = onGone;
    this.#loop = loop;
    this.#child = child;
    this.#protocol = protocol;
    child.on('exit', (code, signal) => this.#exited(code, signal));
    this.#untrack = loop.track(this);
    loop.scheduleSoon(() => {
      try {
        this.#protocol.connectionMade?.(this);
      } catch (exception) {
        this.#loop.callExceptionHandler({ message: 'protocol.connectionMade() failed', exception, transport: this, protocol: this.#protocol });
        this.close();
        return ready(exception instanceof Error ? exception : new Error(String(exception)));
      }
      ready(null);
    }, [], () => {
      // The loop closed before connectionMade could run: subprocessExec
      // fails and the child, which nobody will hear from, is killed; its
      // pipes close. Nothing will run #maybeLost on a closed loop, so the
      // transport stops counting as live here. In a microtask: if the loop
      // was already closed this runs inside the constructor, before the
      // pipes below exist, and they must be closed too.
      queueMicrotask(() => {
        this.#closeForGood();
        ready(loopClosed());
      });
    });
    // Made after connectionMade was scheduled: their own (internal)
    // connectionMade and first reads come after the protocol's.
    for (const fd of [0, 1, 2] as const) {
      const stream = pipes[fd];
      if (stream === undefined) continue;
      this.#openPipes.add(fd);
      this.#pipes.set(fd, new NodeTransport(loop, stream, this.#pipeProtocol(fd), { extra: { pipe: stream }, writable: fd === 0 }));
    }
  }

  #pipeProtocol(fd: number): Protocol {
    return {
      dataReceived: (data) => this.#protocol.pipeDataReceived?.(fd, data),
      // stdin above (at or below) its limits, forwarded as asyncio does.
      pauseWriting: () => this.#protocol.pauseWriting?.(),
      resumeWriting: () => this.#protocol.resumeWriting?.(),
      // EOF on a child's output closes that pipe's transport.
      eofReceived: () => false,
      connectionLost: (err) => {
        this.#openPipes.delete(fd);
        try {
          this.#protocol.pipeConnectionLost?.(fd, err);
        } catch (exception) {
          this.#loop.callExceptionHandler({ message: 'protocol.pipeConnectionLost() failed', exception, transport: this, protocol: this.#protocol });
        }
        this.#maybeLost();
      },
    };
  }

  #exited(code: number | null, signal: NodeJS.Signals | null): void {
    this.#returncode = code ?? -((signal !== null ? (constants.signals as Record<string, number | undefined>)[signal] : undefined) ?? 0);
    const rc = this.#returncode;
    this.#loop.scheduleSoon(() => {
      try {
        this.#protocol.processExited?.();
      } catch (exception) {
        this.#loop.callExceptionHandler({ message: 'protocol.processExited() failed', exception, transport: this, protocol: this.#protocol });
      }
      this.#waiters.resolve(rc);
      this.#maybeLost();
    }, []);
  }

  #maybeLost(): void {
    if (this.#lostCalled || this.#returncode === null || this.#openPipes.size > 0) return;
    this.#lostCalled = true;
    this.#untrack();
    this.#onGone?.();
    this.#loop.scheduleSoon(() => {
      try {
        this.#protocol.connectionLost?.(null);
      } catch (exception) {
        this.#loop.callExceptionHandler({ message: 'protocol.connectionLost() failed', exception, transport: this, protocol: this.#protocol });
      }
    }, []);
  }

  getPid(): number {
    return this.#child.pid!;
  }

  getReturncode(): number | null {
    return this.#returncode;
  }

  getPipeTransport(fd: 0): WriteTransport | null;
  getPipeTransport(fd: 1 | 2): ReadTransport | null;
  getPipeTransport(fd: number): WriteTransport | ReadTransport | null;
  getPipeTransport(fd: number): WriteTransport | ReadTransport | null {
    return this.#pipes.get(fd) ?? null;
  }

  /** Sends a signal (a number or a name); a no-op once the child has exited. */
  sendSignal(signal: number | string): void {
    const signum = toSignalNumber(signal);
    if (this.#returncode !== null) return;
    this.#child.kill(signum);
  }

  terminate(): void {
    this.sendSignal('SIGTERM');
  }

  kill(): void {
    this.sendSignal('SIGKILL');
  }

  /**
   * Kills the child if it still runs, then closes the pipes (as asyncio).
   * The kill comes first, so a child that would exit at EOF on its stdin
   * (cat) ends with -SIGKILL, as in asyncio, not 0.
   */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#returncode === null && this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
    for (const pipe of this.#pipes.values()) pipe.close();
  }

  /**
   * @internal The loop closed: a running child is killed and its pipes
   * close (they are the loop's transports too); nobody is told.
   */
  closeWithLoop(): void {
    if (this.#lostCalled) return;
    this.#closeForGood();
    this.#waiters.fail(loopClosed());
    notifyLoopClosed(this.#protocol);
  }

  #closeForGood(): void {
    this.#lostCalled = true;
    this.#untrack();
    this.close();
    this.#onGone?.();
  }

  isClosing(): boolean {
    return this.#closing;
  }

  getExtraInfo<K extends string, D = undefined>(name: K, dflt?: D): ExtraInfoValue<SubprocessExtraInfo, K, D> {
    return extraInfo<SubprocessExtraInfo, K, D>({ subprocess: this.#child }, name, dflt);
  }

  getProtocol(): SubprocessProtocol {
    return this.#protocol;
  }

  wait(): Promise<number> {
    const rc = this.#returncode;
    if (rc !== null && !this.#waiters.pending) return Promise.resolve(rc);
    return this.#waiters.add();
  }
}
