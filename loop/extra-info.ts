// getExtraInfo() of every transport: a lookup in the transport's own table.
// Object.hasOwn, not `in`: a name of Object.prototype ('constructor') is
// not in the table and must answer the default.
import type { ExtraInfoValue } from './transports.js';

/** The table's entry for `name`, typed by the transport's `Info` (the loop fills the table). */
export function extraInfo<Info, K extends string, D>(
  extra: Record<string, unknown>,
  name: K,
  dflt: D | undefined,
): ExtraInfoValue<Info, K, D> {
  return (Object.hasOwn(extra, name) ? extra[name] : dflt) as ExtraInfoValue<Info, K, D>;
}
