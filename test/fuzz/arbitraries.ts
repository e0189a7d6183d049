// Shared pieces of the property tests in test/fuzz/: the wrong-typed values
// every public method is called with, the rule a thrown error must follow,
// and a runner that fixes the seed and counts the cases.
//
// FUZZ_RUNS=<n> sets the cases per property (default: each property's own
// small count, so `npm test` stays fast); FUZZ_SEED=<n> replays a run.
import fc from 'fast-check';
import type { ExecutionContext } from 'ava';
import { UsageError } from '../../errors/usage-error.js';
import { UvError } from '../../handles/uv-error.js';
import { LockAbandonedError, SyncTimeoutError } from '../../sync/errors.js';
import { CancelledError, IncompleteReadError, LimitOverrunError } from '../../loop/errors.js';

export const SEED =
  process.env['FUZZ_SEED'] !== undefined ? Number(process.env['FUZZ_SEED']) : 0x7a5c;
const envRuns =
  process.env['FUZZ_RUNS'] !== undefined ? Number(process.env['FUZZ_RUNS']) : undefined;

/** Cases per property: FUZZ_RUNS if set, else the property's default. */
export function runs(dflt: number): number {
  return envRuns ?? dflt;
}

/** A view whose ArrayBuffer was transferred away (byteLength 0, unusable). */
export function detachedView(): Uint8Array {
  const view = new Uint8Array(16);
  structuredClone(view.buffer, { transfer: [view.buffer] });
  return view;
}

// Property names an object lookup table inherits: a check written as
// `table[value] === undefined` lets these through.
export const prototypeKeys = [
  'constructor',
  '__proto__',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'then',
] as const;

/**
 * Values of the wrong type or out of range for almost any parameter. Fresh
 * objects per case (fast-check clones nothing), so a method that mutates or
 * detaches one cannot affect the next case.
 */
export const garbage: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    undefined,
    null,
    NaN,
    Infinity,
    -Infinity,
    -1,
    -0,
    0.5,
    -0.5,
    2 ** 31,
    2 ** 32,
    2 ** 53,
    1e300,
    -1e300,
    Number.MIN_VALUE,
    '',
    '\0',
    'a\0b',
    true,
    false,
    10n,
    -1n,
    2n ** 70n,
    ...prototypeKeys,
  ),
  fc.constant(null).map(() => Symbol('fuzz') as unknown),
  fc.constant(null).map(() => ({}) as unknown),
  fc.constant(null).map(() => [] as unknown),
  fc.constant(null).map(() => [1, 'a', null] as unknown),
  fc.constant(null).map(() => Object.create(null) as unknown),
  fc.constant(null).map(() => (() => 1) as unknown),
  fc.constant(null).map(() => new Date(NaN) as unknown),
  fc.constant(null).map(() => Buffer.alloc(0) as unknown),
  fc.constant(null).map(() => new Float64Array(2) as unknown),
  fc.constant(null).map(() => new DataView(new ArrayBuffer(4)) as unknown),
  fc.constant(null).map(() => new ArrayBuffer(8) as unknown),
  fc.constant(null).map(() => new SharedArrayBuffer(8) as unknown),
  fc.constant(null).map(() => detachedView() as unknown),
  fc.constant(null).map(
    () =>
      new Proxy(
        {},
        {
          get: () => {
            throw new TypeError('hostile getter');
          },
        },
      ) as unknown,
  ),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
  fc.double(),
  fc.string({ maxLength: 12 }),
  fc.anything({ maxDepth: 1 }),
);

/** Wrong values for an fd parameter: none of them may name a real fd of this process. */
export const badFd: fc.Arbitrary<unknown> = garbage.filter(
  (v) => !(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 31 - 1),
);

/** A value from `plausible` most of the time (to get past the first check), garbage otherwise. */
export function arg<T>(
  plausible: fc.Arbitrary<T>,
  wrong: fc.Arbitrary<unknown> = garbage,
): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 2, arbitrary: plausible as fc.Arbitrary<unknown> },
    { weight: 1, arbitrary: wrong },
  );
}

/**
 * The error rule of ARCHITECTURE.md: misuse is a UsageError with a stable
 * ERR_ code, a libuv failure a UvError with code/errno/syscall, a wrong
 * type or range a TypeError/RangeError, or one of the documented error
 * classes. Anything else (a plain Error, a string, undefined) fails.
 */
export function typedError(err: unknown): string | undefined {
  if (err instanceof UsageError)
    return typeof err.code === 'string' && /^ERR_[A-Z_]+$/.test(err.code)
      ? undefined
      : `UsageError with bad code ${String(err.code)}`;
  if (err instanceof UvError) {
    return typeof err.code === 'string' &&
      typeof err.errno === 'number' &&
      err.errno < 0 &&
      typeof err.syscall === 'string' &&
      err.syscall.length > 0
      ? undefined
      : `UvError with bad fields ${err.code}/${err.errno}/${err.syscall}`;
  }
  if (err instanceof LockAbandonedError || err instanceof SyncTimeoutError) return undefined;
  if (
    err instanceof IncompleteReadError ||
    err instanceof LimitOverrunError ||
    err instanceof CancelledError
  )
    return undefined;
  if (err instanceof TypeError || err instanceof RangeError) return undefined;
  // An aborted wait rejects with signal.reason: AbortError, or TimeoutError for AbortSignal.timeout().
  if (err instanceof DOMException && (err.name === 'AbortError' || err.name === 'TimeoutError'))
    return undefined;
  const e = err as {
    constructor?: { name?: string };
    message?: string;
    code?: unknown;
    stack?: string;
  };
  return `untyped error: ${e?.constructor?.name ?? typeof err} code=${String(e?.code)} ${String(e?.message ?? err)}\n${e?.stack ?? ''}`;
}

/** Calls `fn`; returns its value, or undefined after checking the thrown error is typed. */
export function attempt<T>(what: string, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    const bad = typedError(err);
    if (bad !== undefined) throw new Error(`${what}: ${bad}`, { cause: err });
    return undefined;
  }
}

/** The same for a call that may throw or return a promise that may reject. */
export async function attemptAsync<T>(
  what: string,
  fn: () => Promise<T> | T,
  timeoutMs = 5000,
): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const hang = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what}: still pending after ${timeoutMs} ms (a hang)`)),
        timeoutMs,
      );
    });
    return await Promise.race([Promise.resolve().then(fn), hang]);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith(`${what}: still pending`)) throw err;
    const bad = typedError(err);
    if (bad !== undefined) throw new Error(`${what}: ${bad}`, { cause: err });
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/** Shows a value in a failure message (symbols, bigints and proxies included). */
export function show(v: unknown): string {
  try {
    return fc.stringify(v);
  } catch {
    if (ArrayBuffer.isView(v)) return `<${v.constructor.name} of a detached buffer>`;
    return `<${typeof v}>`;
  }
}

// Cases run by every property of this test file (one worker per file).
let fileTotal = 0;

/**
 * Runs one property with the fixed (or FUZZ_SEED) seed and logs how many
 * cases ran; a failure fails the test with fast-check's report (the
 * counterexample and the seed/path to replay it).
 */
export async function check<Ts>(
  t: ExecutionContext,
  name: string,
  property: fc.IProperty<Ts> | fc.IAsyncProperty<Ts>,
  defaultRuns: number,
): Promise<number> {
  const numRuns = runs(defaultRuns);
  const details = await fc.check(property as fc.IAsyncProperty<Ts>, {
    seed: SEED,
    numRuns,
    endOnFailure: true,
  });
  const ran = details.numRuns + details.numSkips;
  fileTotal += ran;
  t.log(`[fuzz] ${name}: ${ran} cases (seed ${SEED})`);
  if (details.failed) t.fail(report(name, details));
  else t.pass();
  return ran;
}

/** fast-check's report, or a plainer one when it cannot print the counterexample (detached buffers). */
function report<Ts>(name: string, details: fc.RunDetails<Ts>): string {
  const cause =
    details.errorInstance instanceof Error
      ? (details.errorInstance.stack ?? details.errorInstance.message)
      : String(details.errorInstance);
  try {
    return `${fc.defaultReportMessage(details) ?? `${name} failed`}\n${cause}`;
  } catch {
    const args = Array.isArray(details.counterexample)
      ? details.counterexample.map(show).join(', ')
      : show(details.counterexample);
    return `${name}: property failed (seed ${details.seed}, path ${details.counterexamplePath}) on ${args}\n${cause}`;
  }
}

/** Logs the file's total once every test ran (the long-run script sums these lines). */
export function totalLine(file: string): string {
  return `[fuzz-total] ${file}: ${fileTotal} cases (seed ${SEED})`;
}
