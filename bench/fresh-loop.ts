// What several benchmarks share: a UvEventLoop on a private libuv loop of
// its own (closed with everything on it), and the echo Protocol they serve.
import {
  Loop,
  UvEventLoop,
  type AbstractEventLoop,
  type BatchLimits,
  type Protocol,
  type Transport,
} from 'asyncuv';

/** A UvEventLoop on a fresh Loop (with `limits`, if given), and how to dispose of both. */
export function freshLoop(limits?: Partial<BatchLimits>): {
  loop: AbstractEventLoop;
  dispose(): Promise<void>;
} {
  const uvloop = new Loop();
  if (limits !== undefined) uvloop.setBatchLimits(limits);
  const loop = new UvEventLoop(uvloop);
  return {
    loop,
    async dispose() {
      loop.close();
      for (let i = 0; i < 200 && Object.keys(uvloop.handleCounts()).length > 0; i++)
        await new Promise((r) => setTimeout(r, 5));
      uvloop.close();
    },
  };
}

/** Writes back what it receives. */
export class EchoProtocol implements Protocol {
  #transport: Transport | undefined;
  connectionMade(t: Transport): void {
    this.#transport = t;
  }
  dataReceived(data: Buffer): void {
    this.#transport!.write(data);
  }
}
