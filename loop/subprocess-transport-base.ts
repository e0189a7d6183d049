// What both loops' subprocess transports share (asyncio's
// BaseSubprocessTransport): a transport per stdio pipe whose protocol
// forwards to the SubprocessProtocol with the child's fd, the return code,
// wait(), signals, and the order of the calls:
//
//   connectionMade -> pipeDataReceived* / pipeConnectionLost per pipe,
//   processExited -> connectionLost, once the child has exited and every
//   pipe is closed.
//
// A concrete transport supplies the child: its pid, whether it runs, how
// to signal it, and what releases it once it is reaped.
import { constants } from 'node:os';
import { toSignalNumber } from '../errors/validate.js';
import { loopClosed } from './errors.js';
import { ExitWaiters } from './exit-waiters.js';
import { notifyLoopClosed, type Protocol, type SubprocessProtocol } from './protocols.js';
import { TransportBase, type TransportOptions } from './transport-base.js';
import type {
  ReadTransport,
  SubprocessExtraInfo,
  SubprocessTransport,
  WriteTransport,
} from './transports.js';

export type SubprocessTransportOptions = TransportOptions<SubprocessProtocol>;

/** A pipe's transport: stdin's writes, stdout's and stderr's reads. */
type PipeTransport = ReadTransport & WriteTransport;

export abstract class SubprocessTransportBase<C>
  extends TransportBase<SubprocessProtocol, SubprocessExtraInfo>
  implements SubprocessTransport
{
  readonly #pipes = new Map<number, PipeTransport>();
  #openPipes = 0;
  #returncode: number | null = null;
  // Started on a loop that closed before connectionMade, or closed with
  // its loop: nobody is told anything any more.
  #dropped = false;
  readonly #waiters = new ExitWaiters();

  protected constructor(opts: SubprocessTransportOptions & { extra: { subprocess: C } }) {
    super({ ...opts, kind: 'subprocess' });
  }

  abstract getPid(): number;
  /** True while the child runs (not reaped yet). */
  protected abstract running(): boolean;
  /** Sends `signum` to the running child. */
  protected abstract signal(signum: number): void;
  /** Releases what holds the child once it is reaped (nothing to do if it still runs). */
  protected abstract releaseChild(): void;

  /** Adds the transport of the child's `fd`: its connectionLost counts towards ours. */
  protected addPipe(fd: number, transport: PipeTransport): void {
    this.#openPipes++;
    this.#pipes.set(fd, transport);
  }

  /** The protocol of the pipe on the child's `fd`: forwards to ours. */
  protected pipeProtocol(fd: number): Protocol {
    return {
      dataReceived: (data) => this.protocol.pipeDataReceived?.(fd, data),
      // The child's stdin is above (at or below) its limits: asyncio tells
      // the subprocess protocol, so a writer can wait for drain.
      pauseWriting: () => this.protocol.pauseWriting?.(),
      resumeWriting: () => this.protocol.resumeWriting?.(),
      // EOF on a child's output closes that pipe's transport.
      eofReceived: () => false,
      connectionLost: (err) => {
        this.#openPipes--;
        const protocol = this.protocol;
        this.callProtocol('pipeConnectionLost', () => protocol.pipeConnectionLost?.(fd, err));
        this.#maybeLost();
      },
    };
  }

  /**
   * The child exited with `returncode` (-signum if a signal ended it).
   * Returns true if nobody is to be told (the transport was dropped).
   */
  protected exited(returncode: number): boolean {
    this.#returncode = returncode;
    if (this.#dropped) {
      this.releaseChild();
      return true;
    }
    // asyncio calls process_exited from a later callback too.
    this.loop.scheduleSoon(
      () => {
        const protocol = this.protocol;
        this.callProtocol('processExited', () => protocol.processExited?.());
        this.#waiters.resolve(returncode);
        this.#maybeLost();
      },
      [],
      undefined,
      this.context,
    );
    return false;
  }

  #maybeLost(): void {
    if (this.lost || this.#returncode === null || this.#openPipes > 0) return;
    this.lost = true;
    this.releaseChild();
    this.deliverLost(null);
  }

  /** The pipes start themselves. */
  protected beginIo(): void {}

  /** The loop closed before connectionMade ran: the child, whom nobody hears from, is killed. */
  protected closeAtOnce(): void {
    this.#closeForGood();
  }

  /** connectionMade failed: the child is killed and its pipes closed. */
  protected forceClose(): void {
    this.close();
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
    if (this.running()) this.signal(signum);
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
    if (this.closing) return;
    this.closing = true;
    if (this.running()) this.signal(constants.signals.SIGKILL);
    for (const pipe of this.#pipes.values()) pipe.close();
  }

  /**
   * @internal The loop closed: a running child is killed (its pipes are the
   * loop's transports and close with it); nobody is told, and wait()
   * rejects with ERR_LOOP_CLOSED.
   */
  override closeWithLoop(): void {
    if (this.lost || this.#dropped) return;
    this.#closeForGood();
    this.#waiters.fail(loopClosed());
    notifyLoopClosed(this.protocol);
  }

  #closeForGood(): void {
    this.#dropped = true;
    this.closing = true;
    this.release();
    if (this.running()) this.signal(constants.signals.SIGKILL);
    else this.releaseChild();
  }

  /** Resolves with the return code once the child has exited. */
  wait(): Promise<number> {
    const returncode = this.#returncode;
    if (returncode !== null) return Promise.resolve(returncode);
    return this.#waiters.add();
  }
}
