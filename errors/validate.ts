// Argument checks shared by every handle: the "guards first" of pyuv.
import { UsageError } from './usage-error.js';
import { constants } from 'node:os';

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'Object'}`;
  return `${typeof value} (${String(value)})`;
}

export function invalidArgType(name: string, expected: string, actual: unknown): UsageError {
  return new UsageError(
    'ERR_INVALID_ARG_TYPE',
    `The "${name}" argument must be ${expected}. Received ${describe(actual)}`,
  );
}

export function validateFunction(
  value: unknown,
  name: string,
): asserts value is (...args: never[]) => unknown {
  if (typeof value !== 'function') throw invalidArgType(name, 'a function', value);
}

/** A finite number >= min (integers when `integer`). */
export function validateNumber(
  value: unknown,
  name: string,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): asserts value is number {
  if (typeof value !== 'number') throw invalidArgType(name, 'a number', value);
  if (!Number.isFinite(value) || value < min || value > max) {
    // NaN and the infinities fail even an unbounded range: say so, rather
    // than "must be <= Infinity. Received Infinity".
    const bounds = [min > -Infinity ? `>= ${min}` : '', max < Infinity ? `<= ${max}` : '']
      .filter(Boolean)
      .join(' and ');
    const must = Number.isFinite(value) ? bounds : `a finite number${bounds && ` ${bounds}`}`;
    throw new UsageError(
      'ERR_OUT_OF_RANGE',
      `The value of "${name}" is out of range. It must be ${must}. Received ${value}`,
    );
  }
}

export function validateInteger(
  value: unknown,
  name: string,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): asserts value is number {
  validateNumber(value, name, min, max);
  if (!Number.isInteger(value)) {
    throw new UsageError(
      'ERR_OUT_OF_RANGE',
      `The value of "${name}" must be an integer. Received ${value}`,
    );
  }
}

/**
 * A port where asyncio and node:net take a number or its decimal string
 * (what `URL.port` gives): as a number. Other strings are refused here,
 * not looked up as service names.
 */
export function toPort(value: unknown, name: string): number {
  if (typeof value === 'string') {
    if (!/^\d{1,5}$/.test(value)) {
      const why = `The "${name}" argument must be an integer from 0 to 65535 or its decimal string. Received '${value}'`;
      throw new UsageError('ERR_INVALID_ARG_VALUE', why);
    }
    value = Number(value);
  }
  validateInteger(value, name, 0, 65535);
  return value;
}

/**
 * An options argument: an object (a class instance too), or undefined for
 * none. null, a number or a string is refused here, where it would
 * otherwise fail as a TypeError when an option is read, or be ignored.
 */
export function validateOptions(value: unknown, name: string): asserts value is object | undefined {
  if (value !== undefined && (typeof value !== 'object' || value === null))
    throw invalidArgType(name, 'an object', value);
}

/** An optional boolean option: undefined, or a boolean. */
export function validateOptionalBoolean(value: unknown, name: string): void {
  if (value !== undefined) validateBoolean(value, name);
}

export function validateBoolean(value: unknown, name: string): asserts value is boolean {
  if (typeof value !== 'boolean') throw invalidArgType(name, 'a boolean', value);
}

export function validateString(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string') throw invalidArgType(name, 'a string', value);
}

/** A signal number or name ('SIGUSR1'), as a number. */
export function toSignalNumber(signal: unknown, name = 'signal'): number {
  if (typeof signal === 'number') {
    validateInteger(signal, name, 1, 64);
    return signal;
  }
  if (typeof signal === 'string') {
    const signum = (constants.signals as Record<string, number | undefined>)[signal];
    if (signum === undefined)
      throw new UsageError('ERR_UNKNOWN_SIGNAL', `Unknown signal: ${signal}`);
    return signum;
  }
  throw invalidArgType(name, 'a number or a signal name', signal);
}
