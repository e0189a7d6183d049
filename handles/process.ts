import { binding, type NativeHandle } from './binding.js';
import { bindToContext } from './async-context.js';
import { Handle, loopArg } from './handle.js';
import { kNative } from './internal.js';
import type { Loop } from './loop.js';
import { Pipe } from './pipe.js';
import { Stream } from './stream.js';
import { UsageError } from '../errors/usage-error.js';
import { UvError, check } from './uv-error.js';
import {
  invalidArgType,
  toSignalNumber,
  validateBoolean,
  validateFunction,
  validateInteger,
  validateString,
} from '../errors/validate.js';

/** [kind, value, childFlags], as native/process_wrap.cc reads it. */
type NativeStdio = [0] | [1, number] | [2, unknown, number] | [3, unknown];

interface NativeProcess extends NativeHandle {
  onexit?: (exitStatus: number, termSignal: number) => void;
  spawn(
    loop: unknown,
    file: string,
    args: string[],
    env: string[] | null,
    cwd: string | null,
    detached: boolean,
    uid: number,
    gid: number,
    stdio: NativeStdio[],
  ): number;
  kill(signum: number): number;
  pid(): number;
}

/**
 * What the child gets as one of its fds: nothing ('ignore': /dev/null),
 * the parent's fd of the same number ('inherit'), a new pipe ('pipe': a
 * Pipe in `process.stdio`), an fd of the parent (a number), or a stream.
 * A stream that is open is inherited; a new Pipe that is not open yet is
 * connected to the child instead and appears in `process.stdio` (pass
 * `new Pipe(loop, true)` for an IPC channel that carries handles).
 */
export type StdioOption = 'ignore' | 'inherit' | 'pipe' | number | Stream;

export interface SpawnOptions {
  /** The program; searched in PATH when it has no slash, as execvp does. */
  file: string;
  /** The arguments, without the program (as child_process). */
  args?: readonly string[];
  /** argv[0] as the child sees it; defaults to `file`. */
  argv0?: string;
  /** The whole environment of the child; defaults to this process's. */
  env?: Readonly<Record<string, string>>;
  cwd?: string;
  uid?: number;
  gid?: number;
  /** Starts the child in a new session (setsid), so it outlives a kill of our group. */
  detached?: boolean;
  /** One entry per child fd from 0; missing entries are 'ignore'. */
  stdio?: readonly StdioOption[];
  /** Runs once when the child exits: its status, or the signal that ended it. */
  onExit?: (exitStatus: number, termSignal: number) => void;
}

export type ExitCallback = (exitStatus: number, termSignal: number) => void;

// libuv's UV_READABLE_PIPE / UV_WRITABLE_PIPE: the direction seen from the child.
const CHILD_READS = 0x10;
const CHILD_WRITES = 0x20;

function validateCString(value: unknown, name: string): asserts value is string {
  validateString(value, name);
  if (value.includes('\0')) {
    throw new UsageError(
      'ERR_INVALID_ARG_VALUE',
      `The "${name}" argument must not contain NUL bytes. Received ${JSON.stringify(value)}`,
    );
  }
}

/**
 * @internal What spawn() checks of the program, its arguments, environment
 * and working directory, needing no loop: the loop layer runs the same
 * checks before it spawns on either loop (node:child_process would throw
 * its own TypeErrors, and turn non-string env values into strings).
 * Returns the environment as `KEY=value` strings, or null to inherit it.
 */
export function validateSpawnTarget(
  file: unknown,
  args: unknown,
  env: unknown,
  cwd: unknown,
): string[] | null {
  validateCString(file, 'file');
  if (file.length === 0)
    throw new UsageError('ERR_INVALID_ARG_VALUE', 'The "file" argument must not be empty');
  if (!Array.isArray(args)) throw invalidArgType('args', 'an array of strings', args);
  args.forEach((arg, i) => validateCString(arg, `args[${i}]`));
  let envList: string[] | null = null;
  if (env !== undefined) {
    if (typeof env !== 'object' || env === null) throw invalidArgType('env', 'an object', env);
    envList = [];
    for (const [key, value] of Object.entries(env)) {
      validateCString(value, `env.${key}`);
      if (key.length === 0 || key.includes('=') || key.includes('\0')) {
        throw new UsageError(
          'ERR_INVALID_ARG_VALUE',
          `Invalid environment variable name: ${JSON.stringify(key)}`,
        );
      }
      envList.push(`${key}=${value}`);
    }
  }
  if (cwd !== undefined) validateCString(cwd, 'cwd');
  return envList;
}

/**
 * @internal A new pipe's [read fd, write fd], both close-on-exec and
 * blocking, the caller's to close (a UvError if the system has no fds
 * left). For a child whose stdout and stderr share one pipe (asyncio's
 * stderr=STDOUT): pass the write fd as both, close it once spawned, and
 * read the other end (`new Pipe(loop).open(readFd)`).
 */
export function childPipe(): [number, number] {
  const made = (binding['pipe'] as () => [number, number] | number)();
  if (typeof made === 'number') throw new UvError(made, 'pipe');
  return made;
}

function isOpen(stream: Stream): boolean {
  return stream[kNative].fileno() >= 0;
}

/**
 * uv_process_t: a child process. Process.spawn() starts it; the handle
 * stays active (and keeps the loop alive) until the child exits, and
 * onExit runs once then. Closing the handle does not kill the child; it
 * only stops watching it.
 */
export class Process extends Handle<NativeProcess> {
  readonly #stdio: Array<Pipe | null>;
  #exitCb: ExitCallback | undefined;
  #exitStatus: number | null = null;
  #termSignal: number | null = null;
  #pid = 0;

  private constructor(
    loop: Loop,
    native: NativeProcess,
    stdio: Array<Pipe | null>,
    exitCb: ExitCallback | undefined,
    file: string,
    spawn: (l: unknown) => number,
  ) {
    let status = 0;
    super(loop, native, 'spawn', (l) => {
      status = spawn(l);
      return 0; // checked below, to name the program in the error
    });
    if (status < 0) throw new UvError(status, 'spawn', file);
    this.#stdio = stdio;
    this.#exitCb = bindToContext(exitCb, 'asyncuv.Process');
    this.#pid = native.pid();
    native.onexit = (exitStatus, termSignal) => {
      this.#exitStatus = exitStatus;
      this.#termSignal = termSignal;
      this.#exitCb?.(exitStatus, termSignal);
    };
  }

  /**
   * Starts `opts.file` on `loop`. A failure (ENOENT for a missing program,
   * EACCES, ...) throws a UvError and leaves no handle behind: the pipes
   * created for the child are closed again.
   */
  static spawn(loopOrDefault: Loop | undefined, opts: SpawnOptions): Process {
    const loop = loopArg(loopOrDefault);
    if (typeof opts !== 'object' || opts === null) throw invalidArgType('opts', 'an object', opts);
    const {
      file,
      args = [],
      argv0 = file,
      env,
      cwd,
      uid,
      gid,
      detached = false,
      stdio = [],
      onExit,
    } = opts;
    const envList = validateSpawnTarget(file, args, env, cwd);
    validateCString(argv0, 'argv0');
    if (uid !== undefined) validateInteger(uid, 'uid', 0, 2 ** 32 - 2);
    if (gid !== undefined) validateInteger(gid, 'gid', 0, 2 ** 32 - 2);
    validateBoolean(detached, 'detached');
    if (onExit !== undefined) validateFunction(onExit, 'onExit');
    if (!Array.isArray(stdio)) throw invalidArgType('stdio', 'an array', stdio);
    // Holes and undefined entries are 'ignore', like missing ones.
    const stdioList: StdioOption[] = Array.from(
      stdio as Array<StdioOption | undefined>,
      (entry) => entry ?? 'ignore',
    );

    // Check every entry before creating any pipe, so a bad entry leaks nothing.
    const toConnect = new Set<Pipe>();
    stdioList.forEach((entry: unknown, i) => {
      if (entry === 'ignore' || entry === 'inherit' || entry === 'pipe') return;
      if (typeof entry === 'number') return validateInteger(entry, `stdio[${i}]`, 0, 2 ** 31 - 1);
      if (entry instanceof Stream) {
        if (entry.closed)
          throw new UsageError('ERR_HANDLE_CLOSED', `stdio[${i}] is a closed handle`);
        if (entry.loop !== loop)
          throw new UsageError('ERR_INVALID_ARG_VALUE', `stdio[${i}] belongs to another loop`);
        if (entry instanceof Pipe && !isOpen(entry)) {
          // One new pipe cannot become two fds of the child.
          if (toConnect.has(entry))
            throw new UsageError('ERR_INVALID_ARG_VALUE', `stdio[${i}] repeats a new Pipe`);
          toConnect.add(entry);
        }
        return;
      }
      throw invalidArgType(`stdio[${i}]`, "'ignore', 'inherit', 'pipe', an fd or a Stream", entry);
    });

    const pipes: Array<Pipe | null> = [];
    const created: Pipe[] = [];
    const native = new (binding['Process'] as new () => NativeProcess)();
    try {
      const entries: NativeStdio[] = stdioList.map((entry, i): NativeStdio => {
        const direction =
          i === 0 ? CHILD_READS : i <= 2 ? CHILD_WRITES : CHILD_READS | CHILD_WRITES;
        if (entry === 'ignore') return [0];
        if (entry === 'inherit') return [1, i];
        if (typeof entry === 'number') return [1, entry];
        if (entry === 'pipe') {
          const pipe = new Pipe(loop);
          created.push(pipe);
          pipes[i] = pipe;
          return [2, pipe[kNative], direction];
        }
        if (entry instanceof Pipe && !isOpen(entry)) {
          pipes[i] = entry;
          return [2, entry[kNative], direction];
        }
        return [3, (entry as Stream)[kNative]];
      });
      for (let i = 0; i < stdioList.length; i++) pipes[i] ??= null;
      return new Process(loop, native, pipes, onExit, file, (l) =>
        native.spawn(
          l,
          file,
          [argv0, ...args],
          envList,
          cwd ?? null,
          detached,
          uid ?? -1,
          gid ?? -1,
          entries,
        ),
      );
    } catch (err) {
      for (const pipe of created) pipe.close();
      throw err;
    }
  }

  /** The child's process id (still readable after it exited). */
  get pid(): number {
    return this.#pid;
  }

  /**
   * The pipes created for 'pipe' (and new Pipe) entries, by fd; null
   * elsewhere. The array is the Process's own (an Array, as API.md types
   * it); the Process never reads it again after the spawn.
   */
  get stdio(): Array<Pipe | null> {
    return this.#stdio;
  }

  /** The exit status once the child exited, else null. */
  get exitStatus(): number | null {
    return this.#exitStatus;
  }

  /** The signal that ended the child (0 if none) once it exited, else null. */
  get termSignal(): number | null {
    return this.#termSignal;
  }

  /** Sends a signal (a name or a number; 0 only checks). ESRCH once the child exited. */
  kill(signal: number | string = 'SIGTERM'): void {
    this.assertOpen();
    const signum = signal === 0 ? 0 : toSignalNumber(signal);
    check(this[kNative].kill(signum), 'kill');
  }
}
