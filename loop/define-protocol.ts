// defineProtocol: a protocol factory written as an object literal, typed in
// place. TypeScript types `this` in an object literal's methods as the
// literal itself, so `connectionMade(t) { this.t = t }` does not compile on
// a plain literal; here the caller names the protocol's own state once
// (`defineProtocol<{ t: Transport }>`) and every method sees it on `this`.
import type { AnyProtocol } from './protocols.js';

/**
 * Makes a protocol factory from `methods`: each call returns a new object
 * whose prototype is `methods`, so state set on `this` (`this.t = t`) is
 * per connection while the methods are shared. `State` is the type of that
 * state; a field is unset until a method sets it (as a class field with `!`).
 *
 * ```ts
 * const Echo = defineProtocol<{ t: Transport }>({
 *   connectionMade(t) { this.t = t; },
 *   dataReceived(data) { this.t.write(data); },
 * });
 * await loop.createServer(Echo, '127.0.0.1', 0);
 * ```
 */
export function defineProtocol<State extends object = object>(
  methods: AnyProtocol & ThisType<State & AnyProtocol>,
): () => State & AnyProtocol {
  return () => Object.create(methods) as State & AnyProtocol;
}
