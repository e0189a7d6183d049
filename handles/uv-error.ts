import { binding } from './binding.js';

const names = new Map<number, string>();

/** libuv's name for a negative error code ('ECONNREFUSED', 'EAI_NONAME', ...). */
export function errname(errno: number): string {
  let name = names.get(errno);
  if (name === undefined) {
    name = binding.errname(errno);
    names.set(errno, name);
  }
  return name;
}

/** libuv's error numbers by name, for this platform. */
export const errno: Readonly<Record<string, number>> = Object.freeze(binding.errors());

/**
 * A libuv failure, shaped like Node's own system errors: `code` is the name
 * ('EADDRINUSE'), `errno` libuv's negative number, `syscall` what failed.
 */
export class UvError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;

  constructor(code: number, syscall: string, detail?: string) {
    const name = errname(code);
    super(`${syscall} ${name}: ${binding.strerror(code)}${detail ? ` ${detail}` : ''}`);
    this.name = 'UvError';
    this.code = name;
    this.errno = code;
    this.syscall = syscall;
  }
}

/** Throws a UvError for a negative status; returns a non-negative one. */
export function check(status: number, syscall: string, detail?: string): number {
  if (status < 0) throw new UvError(status, syscall, detail);
  return status;
}

/** A UvError for a negative status, null otherwise (for callbacks). */
export function errorOf(status: number, syscall: string, detail?: string): UvError | null {
  return status < 0 ? new UvError(status, syscall, detail) : null;
}
