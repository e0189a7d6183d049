// Who this thread is, and whether another thread is still alive. The ids
// come from the addon (native/sync_threads.cc): one per env, never reused,
// forgotten when the env is torn down (worker exit, terminate(), process
// exit). Lock words store these ids, so ownership checks are free and a
// waiter can tell that an owner died holding a lock.
import { binding } from '../handles/binding.js';

const native = binding as unknown as {
  syncThreadId: number;
  isThreadAlive(id: number): boolean;
};

/** This thread's id in lock words: 1 .. 2^30 - 1 (0 means unavailable). */
export const selfId: number = native.syncThreadId;

/** False once the thread behind `id` has been torn down. */
export function isThreadAlive(id: number): boolean {
  return native.isThreadAlive(id);
}
