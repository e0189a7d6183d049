// asyncio.subprocess: a child process whose pipes are a StreamWriter
// (stdin) and StreamReaders (stdout, stderr), on any AbstractEventLoop.
import { UsageError } from '../errors/usage-error.js';
import { UvError } from '../handles/uv-error.js';
import { invalidArgType, validateString } from '../errors/validate.js';
import { type AbortOptions, raceAbort, signalOf, throwIfAborted } from './abort.js';
import type { AbstractEventLoop, StdioSpec, SubprocessOptions } from './events.js';
import { FlowControl } from './flow-control.js';
import { loopClosed } from './errors.js';
import { kLoopClosed, type SubprocessProtocol } from './protocols.js';
import { StreamReader } from './stream-reader.js';
import { StreamWriter } from './stream-writer.js';
import { type StreamOptions, split } from './streams.js';
import type { ReadTransport, SubprocessTransport, Transport } from './transports.js';

/**
 * Options of createSubprocessExec/createSubprocessShell. As in asyncio,
 * each of stdin, stdout and stderr is inherited from this process unless
 * it is asked for: 'pipe' makes it a stream of the Process.
 */
export interface SubprocessStreamOptions extends SubprocessOptions, StreamOptions {}

/** Feeds the child's pipes to the Process's streams (asyncio's SubprocessStreamProtocol). */
class SubprocessStreamProtocol implements SubprocessProtocol {
  stdin: StreamWriter | null = null;
  stdout: StreamReader | null = null;
  stderr: StreamReader | null = null;
  readonly #limit: number | undefined;
  readonly #stdinFlow = new FlowControl();
  #transport: SubprocessTransport | null = null;

  constructor(limit: number | undefined) {
    this.#limit = limit;
  }

  connectionMade(transport: SubprocessTransport): void {
    this.#transport = transport;
    this.stdout = this.#reader(transport, 1);
    this.stderr = this.#reader(transport, 2);
    // Pipe transports are full Transports on both loops; fd 0's only writes.
    const stdin = transport.getPipeTransport(0) as Transport | null;
    if (stdin !== null) {
      this.stdin = new StreamWriter(stdin, { flowControl: this.#stdinFlow }, null);
    }
  }

  #reader(transport: SubprocessTransport, fd: 1 | 2): StreamReader | null {
    const pipe = transport.getPipeTransport(fd) as ReadTransport | null;
    if (pipe === null) return null;
    const reader = new StreamReader(this.#limit === undefined ? {} : { limit: this.#limit });
    reader.setTransport(pipe);
    return reader;
  }

  pipeDataReceived(fd: number, data: Buffer): void {
    (fd === 1 ? this.stdout : fd === 2 ? this.stderr : null)?.feedData(data);
  }

  pipeConnectionLost(fd: number, err: Error | null): void {
    if (fd === 0) {
      this.#stdinFlow.connectionLost(err);
      return;
    }
    const reader = fd === 1 ? this.stdout : fd === 2 ? this.stderr : null;
    if (reader === null) return;
    if (err === null) reader.feedEof();
    else reader.setException(err);
  }

  pauseWriting(): void {
    this.#stdinFlow.pauseWriting();
  }

  resumeWriting(): void {
    this.#stdinFlow.resumeWriting();
  }

  connectionLost(): void {
    // The child has exited and every pipe is closed: release the transport.
    this.#transport?.close();
  }

  /**
   * @internal The loop closed with the child (killed) and its pipes:
   * pending reads and drain() reject with ERR_LOOP_CLOSED (wait() too, from
   * the transport) instead of hanging.
   */
  [kLoopClosed](): void {
    const err = loopClosed();
    this.stdout?.setException(err);
    this.stderr?.setException(err);
    this.#stdinFlow.connectionLost(err);
  }
}

// communicate() ignores a child that stopped reading its stdin (asyncio
// ignores BrokenPipeError and ConnectionResetError there).
function isPipeGone(err: unknown): boolean {
  return err instanceof UvError && (err.code === 'EPIPE' || err.code === 'ECONNRESET');
}

/** A child process with stream pipes (asyncio.subprocess.Process). */
export class Process {
  /** The child's stdin, when opened with `stdin: 'pipe'`. */
  readonly stdin: StreamWriter | null;
  /** The child's stdout, when opened with `stdout: 'pipe'`. */
  readonly stdout: StreamReader | null;
  /** The child's stderr, when opened with `stderr: 'pipe'`. */
  readonly stderr: StreamReader | null;
  readonly pid: number;
  readonly #transport: SubprocessTransport;

  /** @internal Made by createSubprocessExec and createSubprocessShell. */
  constructor(transport: SubprocessTransport, protocol: SubprocessStreamProtocol) {
    this.#transport = transport;
    this.stdin = protocol.stdin;
    this.stdout = protocol.stdout;
    this.stderr = protocol.stderr;
    this.pid = transport.getPid();
  }

  /** null while the child runs; then its exit code, or -signum if a signal ended it. */
  get returncode(): number | null {
    return this.#transport.getReturncode();
  }

  /**
   * Resolves with the return code once the child has exited. The pipes are
   * not read: a child that fills a pipe nobody reads waits forever (use
   * communicate()). Aborting `signal` ends the wait, not the child.
   */
  async wait(opts?: AbortOptions): Promise<number> {
    const signal = signalOf(opts);
    throwIfAborted(signal);
    return raceAbort(this.#transport.wait(), signal);
  }

  /**
   * Writes `input` to stdin and closes it, reads stdout and stderr to EOF,
   * waits for the exit, and resolves with `[stdout, stderr]` (null for a
   * stream that is not a pipe); by then every pipe is closed. A child that
   * exits without reading its input is not an error (asyncio ignores the
   * broken pipe too). Aborting `signal` rejects with an
   * AbortError and leaves the child running: the output read so far stays
   * in the readers, so `kill()` then `communicate()` returns all of it.
   */
  async communicate(
    input?: Uint8Array | string | null,
    opts?: AbortOptions,
  ): Promise<[Buffer | null, Buffer | null]> {
    const signal = signalOf(opts);
    throwIfAborted(signal);
    if (input !== undefined && input !== null) {
      if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
        throw invalidArgType('input', 'a Buffer, a Uint8Array or a string', input);
      }
      if (this.stdin === null) {
        const message = "communicate() input needs a child started with stdin: 'pipe'";
        throw new UsageError('ERR_INVALID_STATE', message);
      }
    }
    const [, stdout, stderr] = await Promise.all([
      this.#feedStdin(input ?? null, signal),
      this.#readAll(this.stdout, 1, signal),
      this.#readAll(this.stderr, 2, signal),
    ]);
    await this.wait({ signal });
    return [stdout, stderr];
  }

  async #feedStdin(input: Uint8Array | string | null, signal?: AbortSignal): Promise<void> {
    const stdin = this.stdin;
    if (stdin === null) return;
    try {
      if (input !== null) {
        stdin.write(input);
        await stdin.drain({ signal });
      }
    } catch (err) {
      if (!isPipeGone(err)) throw err;
    }
    stdin.close();
    // Once closed, nothing of the pipe is left when communicate() returns.
    try {
      await stdin.waitClosed({ signal });
    } catch (err) {
      if (!isPipeGone(err)) throw err;
    }
  }

  async #readAll(
    reader: StreamReader | null,
    fd: 1 | 2,
    signal?: AbortSignal,
  ): Promise<Buffer | null> {
    if (reader === null) return null;
    const output = await reader.read(-1, { signal });
    this.#transport.getPipeTransport(fd)?.close();
    return output;
  }

  /** Sends `signal` (a number or a name) to the child; nothing once it has exited. */
  sendSignal(signal: number | string): void {
    this.#transport.sendSignal(signal);
  }

  /** SIGTERM. */
  terminate(): void {
    this.#transport.terminate();
  }

  /** SIGKILL. */
  kill(): void {
    this.#transport.kill();
  }
}

function stdio(spec: StdioSpec | undefined): StdioSpec {
  return spec ?? 'inherit';
}

async function spawnWith(
  opts: SubprocessStreamOptions,
  start: (
    loop: AbstractEventLoop,
    factory: () => SubprocessStreamProtocol,
    rest: SubprocessOptions,
  ) => Promise<unknown>,
): Promise<Process> {
  if (typeof opts !== 'object' || opts === null) {
    throw new UsageError('ERR_INVALID_ARG_TYPE', 'The "options" argument must be an object');
  }
  const [loop, limit, rest] = split(opts);
  const protocol = new SubprocessStreamProtocol(limit);
  const spawnOpts: SubprocessOptions = {
    ...rest,
    stdin: stdio(rest.stdin),
    stdout: stdio(rest.stdout),
    stderr: rest.stderr === 'stdout' ? 'stdout' : stdio(rest.stderr),
  };
  const [transport] = (await start(loop, () => protocol, spawnOpts)) as [SubprocessTransport];
  return new Process(transport, protocol);
}

/**
 * Runs `program` with `args` (without the program itself);
 * asyncio.create_subprocess_exec. Rejects with a UvError (ENOENT...) if it
 * cannot be started.
 */
export async function createSubprocessExec(
  program: string,
  args: string[] = [],
  opts: SubprocessStreamOptions = {},
): Promise<Process> {
  return spawnWith(opts, (loop, factory, rest) =>
    loop.subprocessExec(factory, program, args, rest),
  );
}

/** Runs `cmd` with /bin/sh -c; asyncio.create_subprocess_shell. */
export async function createSubprocessShell(
  cmd: string,
  opts: SubprocessStreamOptions = {},
): Promise<Process> {
  validateString(cmd, 'cmd');
  return spawnWith(opts, (loop, factory, rest) => loop.subprocessShell(factory, cmd, rest));
}
