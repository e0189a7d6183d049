// Symbols shared inside the package and not exported from its entry points.

/** The native object behind a Loop or a Handle. */
export const kNative: unique symbol = Symbol('asyncuv.native');

/**
 * How many Timer callbacks of a Loop are running now (see Timer.start): a
 * counter on the Loop itself, which a timer firing bumps twice, where a
 * WeakMap from loops to counts cost a hash lookup each time.
 */
export const kTimersFiring: unique symbol = Symbol('asyncuv.timersFiring');

/**
 * Whether a Timer start of this job already renewed the Loop's time (see
 * Timer.start): true until the job's microtasks run, so that the Timers a
 * job starts with one timeout share one due time, as in a libuv callback.
 */
export const kTimeRenewed: unique symbol = Symbol('asyncuv.timeRenewed');

/**
 * Called once when a Handle closes, by its close() or by its Loop's close()
 * (which closes the Loop's handles natively): how the loop layer's sock
 * operations (loop/sock-ops.ts) learn that the caller closed a socket under
 * a pending call, which libuv reports to no read or listen callback. One
 * slot per handle, set by whoever waits on it.
 */
export const kOnClose: unique symbol = Symbol('asyncuv.onClose');
