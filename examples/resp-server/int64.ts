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

/**
 * `text` as a Number if it is such an integer of at most 15 characters
 * (exact, and +1 cannot overflow), else NaN: the common case, read without
 * a regular expression or a BigInt.
 */
export function smallInt(text: string): number {
  const n = text.length;
  if (n === 0 || n > 15) return NaN;
  const negative = text.charCodeAt(0) === 0x2d; /* - */
  let i = negative ? 1 : 0;
  if (i === n || (text.charCodeAt(i) === 0x30 /* 0 */ && n > 1)) return NaN;
  let value = 0;
  for (; i < n; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return NaN;
    value = value * 10 + d;
  }
  return negative ? -value : value;
}
