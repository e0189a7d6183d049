// Async context (what AsyncLocalStorage.getStore() returns) across the
// second loop. Node restores it for the callbacks of its own APIs: a
// setTimeout callback sees the stores of the setTimeout call, a socket's
// events those of the socket's creation, a write's callback those of the
// write. Our callbacks start from native code inside one callback scope per
// batch, so without this they would all see the batch's context instead of
// their own, and a request id kept in an AsyncLocalStorage would be lost at
// the first read, timer or callSoon.
//
// The rules:
// 1. Handles: each callback runs in the context of the call that gave it
//    (start, readStart, listen, connect, write, shutdown, send, close,
//    spawn's onExit, new Async), as setTimeout's and a socket request's do
//    in Node. A restart from another context moves it there.
// 2. The loop layer: a callSoon / callLater / callAt / addReader /
//    addWriter / addSignalHandler callback runs in the context of that
//    call (asyncio's call_soon copies the current contextvars the same
//    way); a CallbackHandle is the AsyncResource of its call.
// 3. Transports: every protocol method of a connection runs in the context
//    where its transport was made (a server's connections: the
//    createServer call), whichever callback or caller leads to it
//    (uvloop's rule; loop/transport-base.ts).
//
// An AsyncResource carries a context in every Node version we serve (async
// hooks in Node 20-22, AsyncContextFrame from 24): about 430 instructions
// to make, where AsyncLocalStorage.snapshot() took microseconds (it
// defines properties on a bound function). What entering one per pass
// costs is in bench/PROFILE.md, "Async context".
import { AsyncResource } from 'node:async_hooks';

export type AsyncContext = AsyncResource;

/** The async context of the current call (`type`: the name async_hooks shows for it). */
export function captureContext(type: string): AsyncContext {
  return new AsyncResource(type);
}

/**
 * `cb` bound to the current context, or undefined for no callback: for
 * callbacks that run once or rarely (a hot path keeps the context beside
 * its callback and enters it itself, as Stream's reads and Timer do).
 */
export function bindToContext<A extends unknown[]>(
  cb: ((...args: A) => void) | undefined,
  type: string,
): ((...args: A) => void) | undefined {
  if (cb === undefined) return undefined;
  const context = new AsyncResource(type);
  return (...args: A) => context.runInAsyncScope(cb, undefined, ...args);
}
