// Which loop newEventLoop() makes, and asyncio.run().
import { validateFunction } from '../errors/validate.js';
import type { AbstractEventLoop } from './events.js';
import { UvEventLoop } from './uv-event-loop.js';

let factory: () => AbstractEventLoop = () => new UvEventLoop();

/** A new loop from the factory in force (UvEventLoop by default). */
export function newEventLoop(): AbstractEventLoop {
  return factory();
}

/** Makes newEventLoop() (and run()) use another loop, e.g. NodeEventLoop. */
export function setEventLoopFactory(f: () => AbstractEventLoop): void {
  validateFunction(f, 'factory');
  factory = f;
}

/**
 * asyncio.run(): makes a loop (or uses opts.loop), runs `main` on it until
 * it settles, and closes the loop it made.
 */
export async function run<T>(
  main: (loop: AbstractEventLoop) => Promise<T>,
  opts: { loop?: AbstractEventLoop; debug?: boolean } = {},
): Promise<T> {
  validateFunction(main, 'main');
  const loop = opts.loop ?? newEventLoop();
  if (opts.debug !== undefined) loop.setDebug(opts.debug);
  try {
    return await loop.runUntilComplete(() => main(loop));
  } finally {
    if (opts.loop === undefined) loop.close();
  }
}
