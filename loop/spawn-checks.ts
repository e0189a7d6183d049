// What the loop checks before it spawns a child or wraps a caller's fd in a
// pipe transport (CPython's base_events.py subprocess_exec/_shell and
// unix_events.py's pipe transports), the same on both loops, so that each
// loop's own refusal (libuv's, node:child_process's, net.Socket's) never
// decides what the caller sees.
import { fstatSync } from 'node:fs';
import { isatty } from 'node:tty';
import { UsageError } from '../errors/usage-error.js';
import {
  invalidArgType,
  validateBoolean,
  validateInteger,
  validateString,
} from '../errors/validate.js';
import { errno, UvError } from '../handles/uv-error.js';
import type { SubprocessOptions } from './events.js';
import type { SpawnPlan } from './loop-plans.js';

/**
 * The pipe transports take a pipe (FIFO), a socket or a terminal, as
 * asyncio's ("Pipe transport is for pipes/sockets only", character devices
 * allowed: `connect_read_pipe(proto, sys.stdin)` on a terminal); each loop
 * would refuse anything else its own way (libuv: EINVAL, net.Socket:
 * ERR_INVALID_FD_TYPE), so the fd is looked at first, the same on both: a
 * fd that is not open is EBADF, another kind of file (a regular file, a
 * directory, a character device that is not a terminal, such as /dev/null,
 * which epoll cannot watch) ERR_INVALID_ARG_VALUE (asyncio's ValueError).
 * The fd stays the caller's then.
 */
export function checkPipeFd(fd: number): void {
  let st;
  try {
    st = fstatSync(fd);
  } catch {
    throw new UvError(errno['EBADF']!, 'fstat', `(fd ${fd})`);
  }
  if (!st.isFIFO() && !st.isSocket() && !isatty(fd)) {
    throw new UsageError(
      'ERR_INVALID_ARG_VALUE',
      `Pipe transport is for pipes, sockets and terminals only (fd ${fd} is none of them)`,
    );
  }
}

/**
 * asyncio's subprocess_exec and subprocess_shell refuse the Popen options
 * that would change what they are: the pipes carry bytes (text,
 * universal_newlines, encoding and errors must be unset, bufsize 0), and
 * exec runs no shell, shell always one (shell False, resp. True). A
 * caller used to node:child_process may pass `shell` or `encoding`, which
 * would otherwise be ignored without a word.
 */
export function checkBytesOnly(opts: unknown, shell: boolean): void {
  if (typeof opts !== 'object' || opts === null) return; // stdioSpec and the rest report it
  const given = opts as Record<string, unknown>;
  const refuse = (why: string): never => {
    throw new UsageError('ERR_INVALID_ARG_VALUE', why);
  };
  if (given['shell'] !== undefined && given['shell'] !== shell) {
    refuse(`shell must be ${shell}: use ${shell ? 'subprocessExec' : 'subprocessShell'}`);
  }
  for (const name of ['universalNewlines', 'text']) {
    if (given[name] !== undefined && given[name] !== false) {
      refuse(`${name} must be false: the pipes carry bytes`);
    }
  }
  for (const name of ['encoding', 'errors']) {
    if (given[name] !== undefined && given[name] !== null) {
      refuse(`${name} must be unset: the pipes carry bytes`);
    }
  }
  if (given['bufsize'] !== undefined && given['bufsize'] !== 0) refuse('bufsize must be 0');
}

/**
 * The spawn options past stdio, program and arguments, checked on both loops
 * before anything is spawned. uid and gid stop at 2^31 - 1 as
 * node:child_process's int32 does; whether we may use them is the spawn's
 * answer (EPERM). A passed fd must be open now (EBADF, as checkPipeFd):
 * libuv would fail in the forked child, and Node then throws.
 */
export function spawnPlan(opts: SubprocessOptions): SpawnPlan {
  const { executable, startNewSession = false, passFds = [], uid, gid } = opts;
  if (executable !== undefined) {
    validateString(executable, 'executable');
    // An empty name would run nothing; a NUL would cut the name short in execvp.
    if (executable.length === 0 || executable.includes('\0')) {
      throw new UsageError(
        'ERR_INVALID_ARG_VALUE',
        `executable must be a file name without NUL bytes: ${JSON.stringify(executable)}`,
      );
    }
  }
  validateBoolean(startNewSession, 'startNewSession');
  if (uid !== undefined) validateInteger(uid, 'uid', 0, 2 ** 31 - 1);
  if (gid !== undefined) validateInteger(gid, 'gid', 0, 2 ** 31 - 1);
  if (!Array.isArray(passFds)) throw invalidArgType('passFds', 'an array of fds', passFds);
  const seen = new Set<number>();
  passFds.forEach((fd: unknown, i) => {
    // 0-2 are the child's stdin, stdout and stderr: their own options say what they are.
    validateInteger(fd, `passFds[${i}]`, 3, 2 ** 31 - 1);
    if (seen.has(fd)) {
      throw new UsageError('ERR_INVALID_ARG_VALUE', `passFds repeats fd ${fd}`);
    }
    seen.add(fd);
  });
  for (const fd of seen) {
    try {
      fstatSync(fd);
    } catch {
      throw new UvError(errno['EBADF']!, 'fstat', `(passFds: fd ${fd})`);
    }
  }
  return {
    executable,
    env: opts.env,
    cwd: opts.cwd,
    startNewSession,
    passFds: [...seen].sort((a, b) => a - b),
    uid,
    gid,
  };
}
