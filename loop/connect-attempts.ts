// createConnection's attempts over the addresses of a host (asyncio's
// create_connection with happy_eyeballs_delay, interleave and all_errors,
// and its staggered_start): one address after another by default, or
// Happy Eyeballs (RFC 8305) with a delay: the next attempt starts when the
// one before fails or has not connected within the delay, the first
// connection wins, and the others are cancelled (a late one is closed).
import { UsageError } from '../errors/usage-error.js';
import { validateNumber, validateInteger } from '../errors/validate.js';
import { errno, UvError } from '../handles/uv-error.js';
import type { ResolvedAddress } from './resolve.js';

/** The options of createConnection that shape its attempts. */
export interface AttemptOptions {
  /** Only addresses of this family (asyncio's family=AF_INET / AF_INET6). */
  family?: 4 | 6 | undefined;
  /**
   * Seconds to give an attempt before the next one starts beside it
   * (Happy Eyeballs, RFC 8305; 0.25 is the RFC's value). Without it, one
   * attempt at a time.
   */
  happyEyeballsDelay?: number | undefined;
  /**
   * Reorders the addresses by family: `interleave` of the first family,
   * then one of each in turn (RFC 8305's "First Address Family Count").
   * Default 1 with happyEyeballsDelay, else none.
   */
  interleave?: number | undefined;
  /**
   * Reject with an AggregateError of every attempt's error when all fail
   * (asyncio's all_errors=True and its ExceptionGroup); by default, with
   * the last attempt's error.
   */
  allErrors?: boolean | undefined;
}

/** ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE for options that are not as documented. */
export function checkAttemptOptions(opts: AttemptOptions): void {
  if (opts.family !== undefined && opts.family !== 4 && opts.family !== 6) {
    throw new UsageError('ERR_INVALID_ARG_VALUE', 'family must be 4 or 6');
  }
  if (opts.happyEyeballsDelay !== undefined) {
    validateNumber(opts.happyEyeballsDelay, 'happyEyeballsDelay', 0);
  }
  if (opts.interleave !== undefined) validateInteger(opts.interleave, 'interleave', 0);
  if (opts.allErrors !== undefined && typeof opts.allErrors !== 'boolean') {
    throw new UsageError('ERR_INVALID_ARG_TYPE', 'allErrors must be a boolean');
  }
}

/** The addresses to try, in order: of `family` only, interleaved as asked. */
export function attemptOrder(
  addresses: readonly ResolvedAddress[],
  opts: AttemptOptions,
  host: string,
): ResolvedAddress[] {
  const wanted = opts.family;
  const of = wanted === undefined ? [...addresses] : addresses.filter((a) => a.family === wanted);
  if (of.length === 0 && addresses.length > 0) {
    // getaddrinfo's answer for a name with no address of the family asked.
    throw new UvError(errno['EAI_ADDRFAMILY']!, 'getaddrinfo', host);
  }
  const first = opts.interleave ?? (opts.happyEyeballsDelay !== undefined ? 1 : 0);
  return first > 0 ? interleave(of, first) : of;
}

/** RFC 8305 section 4: `first` of the first family, then the families in turn. */
function interleave(addresses: ResolvedAddress[], first: number): ResolvedAddress[] {
  const byFamily = new Map<number, ResolvedAddress[]>();
  for (const a of addresses) {
    const list = byFamily.get(a.family);
    if (list === undefined) byFamily.set(a.family, [a]);
    else list.push(a);
  }
  const queues = [...byFamily.values()];
  // asyncio's _interleave_addrinfos: first - 1 ahead, then one of each in turn.
  const out = queues[0]!.splice(0, first - 1);
  for (let i = 0; queues.some((q) => q.length > 0); i++) {
    const next = queues[i % queues.length]!.shift();
    if (next !== undefined) out.push(next);
  }
  return out;
}

/** What the attempts need from the loop. */
export interface Attempts<S> {
  /** Connects to one address; `signal` cancels it (rejecting, with nothing left open). */
  connect(address: ResolvedAddress, signal: AbortSignal | undefined): Promise<S>;
  /** Closes a connection that lost the race. */
  discard(sock: S): void;
  /** Schedules `cb` after `seconds` on the loop; returns what cancels it. */
  after(seconds: number, cb: () => void): () => void;
  /** True once the caller's own signal aborted or the loop closed: stop at once. */
  stopped(): boolean;
}

/** The error when every attempt failed. */
function failure(errors: Error[], opts: AttemptOptions, host: string): Error {
  if (errors.length === 0) return new UvError(errno['EHOSTUNREACH']!, 'connect', host);
  if (opts.allErrors === true) {
    return new AggregateError(errors, `createConnection failed: ${errors.length} attempts`);
  }
  return errors[errors.length - 1]!;
}

/**
 * Tries `addresses` in order and resolves with the first connection. An
 * error of the caller's own (its abort, the loop's close) ends it at once.
 */
export async function connectFirst<S>(
  addresses: readonly ResolvedAddress[],
  opts: AttemptOptions,
  host: string,
  attempts: Attempts<S>,
): Promise<S> {
  const delay = opts.happyEyeballsDelay;
  if (delay === undefined || addresses.length < 2) {
    const errors: Error[] = [];
    for (const address of addresses) {
      try {
        return await attempts.connect(address, undefined);
      } catch (err) {
        if (attempts.stopped()) throw err;
        errors.push(err as Error);
      }
    }
    throw failure(errors, opts, host);
  }
  return staggered(addresses, delay, opts, host, attempts);
}

/** asyncio's staggered_start: the next attempt starts on a failure or after `delay`. */
function staggered<S>(
  addresses: readonly ResolvedAddress[],
  delay: number,
  opts: AttemptOptions,
  host: string,
  attempts: Attempts<S>,
): Promise<S> {
  return new Promise<S>((resolve, reject) => {
    const errors: Error[] = [];
    const running = new Set<AbortController>();
    let next = 0;
    let settled = false;
    let cancelTimer: (() => void) | undefined;

    const finish = (): void => {
      settled = true;
      cancelTimer?.();
      for (const c of running) c.abort();
      running.clear();
    };
    const start = (): void => {
      cancelTimer?.();
      cancelTimer = undefined;
      if (settled || next >= addresses.length) return;
      const address = addresses[next++]!;
      const controller = new AbortController();
      running.add(controller);
      if (next < addresses.length) cancelTimer = attempts.after(delay, start);
      attempts.connect(address, controller.signal).then(
        (sock) => {
          running.delete(controller);
          if (settled) return attempts.discard(sock); // a later winner
          finish();
          resolve(sock);
        },
        (err: unknown) => {
          running.delete(controller);
          if (settled) return;
          if (attempts.stopped()) {
            finish();
            return reject(err);
          }
          if (!controller.signal.aborted) errors.push(err as Error);
          if (next < addresses.length) return start(); // a failure starts the next at once
          if (running.size === 0) {
            finish();
            reject(failure(errors, opts, host));
          }
        },
      );
    };
    start();
  });
}
