// getExtraInfo() of every transport: a lookup in the transport's own table.
// Object.hasOwn, not `in`: with `in`, getExtraInfo('constructor') answered
// Object.prototype.constructor instead of the default (found by fuzzing).

export function extraInfo<T>(extra: Record<string, unknown>, name: string, dflt: T | undefined): T | undefined {
  return Object.hasOwn(extra, name) ? (extra[name] as T) : dflt;
}
