// Symbols shared inside the package and not exported from its entry points.

/** The native object behind a Loop or a Handle. */
export const kNative: unique symbol = Symbol('asyncuv.native');

/**
 * How many Timer callbacks of a Loop are running now (see Timer.start): a
 * counter on the Loop itself, which a timer firing bumps twice, where a
 * WeakMap from loops to counts cost a hash lookup each time.
 */
export const kTimersFiring: unique symbol = Symbol('asyncuv.timersFiring');
