// Async context (what AsyncLocalStorage.getStore() returns) across the
// second loop. Node restores it for the callbacks of its own APIs: a
// setTimeout callback sees the stores of the setTimeout call, a socket's
// events those of the socket's creation, a write's callback those of the
// write. Our callbacks start from native code inside one callback scope per
// batch, so without this they would all see the batch's context instead of
// their own, and a request id kept in an AsyncLocalStorage would be lost at
// the first read, timer or callSoon.
//
// The rules, the same as Node's for its own handles and requests:
// 1. A handle's events (reads, connections, timer, poll, signal, exit ...)
//    run in the context where the handle was created (its [kContext]).
// 2. A request's callback (write, shutdown, connect, send, close) runs in
//    the context of the call that made the request.
// 3. The loop layer's callSoon / callLater / callAt callbacks run in the
//    context of that call (asyncio's call_soon copies the current
//    contextvars the same way).
//
// An AsyncResource is what carries a context in every Node version we
// serve (async hooks in Node 20-22, AsyncContextFrame from 24): about 30-50
// ns to make and 15-20 ns to enter, where AsyncLocalStorage.snapshot() took
// microseconds (it defines properties on a bound function).
import { AsyncResource } from 'node:async_hooks';

export type AsyncContext = AsyncResource;

/** The async context of the current call, for rules 1 and 2 (named as async_hooks shows it). */
export function captureContext(type: string): AsyncContext {
  return new AsyncResource(type);
}

/** The handle's context (rule 1), set by the Handle constructor. */
export const kContext: unique symbol = Symbol('asyncuv.context');

/**
 * `cb` bound to the current context (rule 2), or undefined for no callback:
 * for request callbacks, which are rare next to the events of rule 1.
 */
export function bindToContext<A extends unknown[]>(
  cb: ((...args: A) => void) | undefined,
  type: string,
): ((...args: A) => void) | undefined {
  if (cb === undefined) return undefined;
  const context = new AsyncResource(type);
  return (...args: A) => context.runInAsyncScope(cb, undefined, ...args);
}
