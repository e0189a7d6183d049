// What several benchmarks share: a UvEventLoop on a private libuv loop of
// its own (closed with everything on it), and the echo servers they run on
// it (a Protocol, and asyncio-style streams).
import {
  Loop,
  UvEventLoop,
  startServer,
  type AbstractEventLoop,
  type BatchLimits,
  type Protocol,
  type Server,
  type Transport,
} from 'asyncuv';

/** A UvEventLoop on a fresh Loop (with `limits`, if given), and how to dispose of both. */
export function freshLoop(limits?: Partial<BatchLimits>): {
  loop: AbstractEventLoop;
  uvloop: Loop;
  dispose(): Promise<void>;
} {
  const uvloop = new Loop();
  if (limits !== undefined) uvloop.setBatchLimits(limits);
  const loop = new UvEventLoop(uvloop);
  return {
    loop,
    uvloop,
    async dispose() {
      loop.close();
      // The loop's handles finish closing in the next turn or two: waited
      // for by setImmediate first, so that a benchmark which disposes of its
      // loop inside the timed part does not time a 5 ms sleep (it was 8% of
      // the callLater case's round), then by 5 ms steps (a second at most).
      for (let i = 0; i < 220 && Object.keys(uvloop.handleCounts()).length > 0; i++)
        await new Promise((r) => (i < 20 ? setImmediate(r) : setTimeout(r, 5)));
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

/**
 * An echo server of asyncio-style streams on 127.0.0.1 (an ephemeral port):
 * `data = await reader.read(65536); writer.write(data); await writer.drain()`.
 */
export function streamsEchoServer(loop: AbstractEventLoop): Promise<Server> {
  return startServer(
    async (reader, writer) => {
      try {
        for (;;) {
          const data = await reader.read(65536);
          if (data.length === 0) break;
          writer.write(data);
          await writer.drain();
        }
      } catch (err) {
        // The native load generator ends its connections with a reset, as
        // the node:net server beside this one sees too: the end of a run.
        if ((err as { code?: unknown }).code !== 'ECONNRESET') throw err;
      } finally {
        writer.close();
      }
    },
    '127.0.0.1',
    0,
    { loop },
  );
}
