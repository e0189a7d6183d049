// Debug mode: a transport or server that is garbage-collected while still
// open is reported, as asyncio's ResourceWarning('unclosed transport').
const registry = new FinalizationRegistry<string>((what) => {
  process.emitWarning(`${what} was garbage-collected while still open; call close()`, {
    code: 'ASYNCUV_UNCLOSED',
  });
});

/** Starts watching `target` (only in debug mode); returns what stops it. */
export function watchUnclosed(debug: boolean, target: object, what: string): () => void {
  if (!debug) return () => {};
  const token = {};
  registry.register(target, what, token);
  return () => registry.unregister(token);
}
