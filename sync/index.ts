// sync/: lock primitives across worker_threads. Each primitive's state is a
// SharedArrayBuffer; `primitive.handle` crosses threads (postMessage,
// workerData) and `Primitive.from(handle)` rebuilds it. Blocking methods are
// for workers; the ...Async ones never block the calling thread.
export { Mutex, type MutexHandle } from './mutex.js';
export { RWLock, type RWLockHandle } from './rwlock.js';
export { Condition, type ConditionHandle } from './condition.js';
export { Barrier, type BarrierHandle } from './barrier.js';
export { Semaphore, type SemaphoreHandle, type SemaphoreOptions } from './semaphore.js';
export { Queue, type QueueHandle, type QueueOptions } from './queue.js';
export { LockGuard } from './guard.js';
export { LockAbandonedError, SyncTimeoutError } from './errors.js';
// Misuse (ERR_LOCK_NOT_OWNED, ...) throws the one UsageError of every layer.
export { UsageError, type UsageErrorCode } from '../errors/usage-error.js';
export type { AsyncWaitOptions } from './park.js';
export type { SyncHandle } from './shared-state.js';
