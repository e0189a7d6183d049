// The subprocess transport over a handles/ Process and pipe transports for
// the child's stdin/stdout/stderr (asyncio's BaseSubprocessTransport).
//
// Order: connectionMade; pipeDataReceived / pipeConnectionLost per pipe;
// processExited when the child exits; connectionLost once the child has
// exited AND every pipe is closed.
import type { Pipe } from '../handles/pipe.js';
import type { Process } from '../handles/process.js';
import { toSignalNumber } from '../errors/validate.js';
import type { BaseEventLoop } from './base-event-loop.js';
import { loopClosed } from './errors.js';
import { notifyLoopClosed, type Protocol, type SubprocessProtocol } from './protocols.js';
import { ExitWaiters } from './exit-waiters.js';
import { StreamTransport } from './stream-transport.js';
import type { ExtraInfoValue, ReadTransport, SubprocessExtraInfo, SubprocessTransport, WriteTransport } from './transports.js';
import { extraInfo } from './extra-info.js';

export class UvSubprocessTransport implements SubprocessTransport {
  readonly #loop: BaseEventLoop;
  readonly #protocol: SubprocessProtocol;
  #process: Process | undefined;
  readonly #pipes = new Map<number, StreamTransport>();
  #openPipes = 0;
  #returncode: number | null = null;
  #exited = false;
  #closing = false;
  #lost = false;
  #dropped = false;
  readonly #waiters = new ExitWaiters();
  readonly #extra: Record<string, unknown> = {};
  readonly #untrack: () => void;
  // Counts this subprocess out of the loop's liveResources() (set by attach).
  #gone: () => void = () => {};

  constructor(loop: BaseEventLoop, protocol: SubprocessProtocol) {
    this.#loop = loop;
    this.#protocol = protocol;
    this.#untrack = loop.track(this);
  }

  /** @internal The process exited: status, or the signal that ended it. */
  onExit(exitStatus: number, termSignal: number): void {
    this.#returncode = termSignal !== 0 ? -termSignal : exitStatus;
    this.#exited = true;
    if (this.#dropped) {
      // Started on a loop that closed before connectionMade: nobody is
      // told; the handle closes now that the child is reaped.
      this.#process?.close();
      return;
    }
    // Nobody reads the child's stdin any more. asyncio learns this from the
    // pipe's hang-up; libuv does not watch a write-only pipe, so close it
    // here (queued bytes, if any, then fail with EPIPE as they would there).
    this.#pipes.get(0)?.close();
    // asyncio calls process_exited from a later callback too.
    this.#loop.scheduleSoon(() => {
      this.#call('processExited', () => this.#protocol.processExited?.());
      this.#waiters.resolve(this.#returncode!);
      this.#maybeLost();
    }, []);
  }

  /** @internal Called once spawn() succeeded: wraps the pipes, then connectionMade. */
  attach(process: Process, ready: (err?: Error) => void): void {
    this.#process = process;
    this.#extra['subprocess'] = process;
    this.#gone = this.#loop.trackResource('subprocess');
    const stdio = process.stdio;
    stdio.forEach((pipe, fd) => {
      if (pipe === null || fd > 2) return;
      this.#openPipes++;
      this.#pipes.set(fd, this.#pipeTransport(pipe, fd));
    });
    this.#loop.scheduleSoon(() => {
      this.#call('connectionMade', () => this.#protocol.connectionMade?.(this));
      ready();
    }, [], () => {
      // The loop closed before connectionMade could run: subprocessExec
      // fails, and the child, which nobody will ever hear from, is killed.
      // Its pipes close through their own dropped starts; the process
      // handle stays open until the exit is reaped (see onExit).
      this.#untrack();
      this.#closeForGood();
      ready(loopClosed());
    });
  }

  #pipeTransport(pipe: Pipe, fd: number): StreamTransport {
    const protocol: Protocol = {
      dataReceived: (data) => this.#call('pipeDataReceived', () => this.#protocol.pipeDataReceived?.(fd, data)),
      // The child's stdin is above (at or below) its limits: asyncio tells
      // the subprocess protocol, so a writer can wait for drain.
      pauseWriting: () => this.#protocol.pauseWriting?.(),
      resumeWriting: () => this.#protocol.resumeWriting?.(),
      connectionLost: (err) => {
        this.#openPipes--;
        this.#call('pipeConnectionLost', () => this.#protocol.pipeConnectionLost?.(fd, err));
        this.#maybeLost();
      },
    };
    return new StreamTransport(this.#loop, pipe, protocol, { pipe }, undefined, undefined, fd !== 0);
  }

  #call(what: string, fn: () => void): void {
    try {
      fn();
    } catch (exception) {
      this.#loop.callExceptionHandler({ message: `protocol.${what}() failed`, exception, transport: this, protocol: this.#protocol });
    }
  }

  #maybeLost(): void {
    if (this.#lost || !this.#exited || this.#openPipes > 0) return;
    this.#lost = true;
    this.#untrack();
    this.#gone();
    this.#process?.close();
    this.#loop.scheduleSoon(() => this.#call('connectionLost', () => this.#protocol.connectionLost?.(null)), []);
  }

  getPid(): number {
    return this.#process?.pid ?? -1;
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

  sendSignal(signal: number | string): void {
    const signum = toSignalNumber(signal);
    if (this.#exited || this.#process === undefined || this.#process.closed) return;
    this.#process.kill(signum);
  }

  terminate(): void {
    this.sendSignal('SIGTERM');
  }

  kill(): void {
    this.sendSignal('SIGKILL');
  }

  /**
   * Kills the child if it still runs, then closes the pipes (as asyncio,
   * whose pipes close only on the next iteration). The kill comes first: a
   * child that sees EOF on its stdin (cat) could otherwise exit by itself
   * before the signal, with 0 instead of -SIGKILL.
   */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (!this.#exited) this.kill();
    for (const pipe of this.#pipes.values()) pipe.close();
  }

  /**
   * @internal The loop closed: a running child is killed (its pipes are the
   * loop's transports and close with it); nobody is told. The process
   * handle stays open until the exit is reaped (see onExit).
   */
  closeWithLoop(): void {
    if (this.#lost || this.#dropped) return;
    this.#closeForGood();
    this.#waiters.fail(loopClosed());
    notifyLoopClosed(this.#protocol);
  }

  #closeForGood(): void {
    this.#dropped = true;
    this.#closing = true;
    this.#gone();
    const process = this.#process;
    if (process === undefined || process.closed) return;
    if (!this.#exited) process.kill('SIGKILL');
    else process.close();
  }

  isClosing(): boolean {
    return this.#closing;
  }

  getExtraInfo<K extends string, D = undefined>(name: K, dflt?: D): ExtraInfoValue<SubprocessExtraInfo, K, D> {
    return extraInfo<SubprocessExtraInfo, K, D>(this.#extra, name, dflt);
  }

  getProtocol(): SubprocessProtocol {
    return this.#protocol;
  }

  wait(): Promise<number> {
    if (this.#exited && this.#returncode !== null) return Promise.resolve(this.#returncode);
    return this.#waiters.add();
  }
}
