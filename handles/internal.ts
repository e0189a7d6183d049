// Symbols shared inside the package and not exported from its entry points.

/** The native object behind a Loop or a Handle. */
export const kNative: unique symbol = Symbol('asyncuv.native');
