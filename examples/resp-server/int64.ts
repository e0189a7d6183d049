// Redis's integers: signed 64-bit, written the one way string2ll() accepts
// ("0", or an optional '-' and digits without a leading zero; no '+', no
// spaces, no exponent). INCR's values and SET's EX/PX take these, so a key
// holding 2^53 + 1 increments as in Redis, and "01" or "-0" is refused.

export const INT64_MAX = 2n ** 63n - 1n;
export const INT64_MIN = -(2n ** 63n);

const DIGITS = /^(?:0|-?[1-9][0-9]{0,18})$/;

/** `text` as Redis reads an integer argument or value, or undefined if it is none. */
export function parseInt64(text: string): bigint | undefined {
  if (!DIGITS.test(text)) return undefined;
  const value = BigInt(text);
  return value >= INT64_MIN && value <= INT64_MAX ? value : undefined;
}
