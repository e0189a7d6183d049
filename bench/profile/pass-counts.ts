// How much stream work one pass of the private loop carries, the figures
// bench/PROFILE.md ("The stream path") bases its choices on:
//
//   node dist/bench/profile/pass-counts.js echo 3 50     # seconds, connections
//   node dist/bench/profile/pass-counts.js resp 100000 16  # GET requests, pipeline
//
// - echo: a Protocol echo server under the native ping-pong client; prints
//   the reads (dataReceived calls) per pass and per batch: what delivering
//   the reads of a pass in one call into JS would merge.
// - resp: the RESP example under redis-benchmark; prints the transport
//   writes and how many of them went to a stream already written in the
//   same pass: the only writes a flush once per pass could merge into one
//   syscall.
import { Loop, UvEventLoop, type Protocol, type Transport } from 'asyncuv';
import { kNative } from '../../handles/internal.js';
import { StreamTransport } from '../../loop/stream-transport.js';
import { startRespServer } from '../../examples/resp-server/main.js';
import { pingPong } from '../loadgen/echo-client.js';
import { redisBenchmark } from '../resp.bench.js';

const uv = new Loop();
const loop = new UvEventLoop(uv);
const passes = (): number => uv[kNative].driverState()['passes'] as number;
const batches = (): number => uv[kNative].driverState()['batches'] as number;

async function echo(seconds: number, conns: number): Promise<object> {
  let reads = 0;
  class Echo implements Protocol {
    #t: Transport | undefined;
    connectionMade(t: Transport): void {
      this.#t = t;
    }
    dataReceived(data: Buffer): void {
      reads++;
      this.#t!.write(data);
    }
  }
  const server = await loop.createServer(() => new Echo(), '127.0.0.1', 0);
  const port = (server.sockets()[0] as { port: number }).port;
  const [p0, b0] = [passes(), batches()];
  await pingPong({ port, conns, size: 1024, seconds, warmup: 0.2 });
  const [p, b] = [passes() - p0, batches() - b0];
  server.close();
  await server.waitClosed();
  return { conns, reads, passes: p, readsPerPass: reads / p, readsPerBatch: reads / b };
}

async function resp(requests: number, pipeline: number): Promise<object> {
  let writes = 0;
  let samePass = 0;
  const lastPass = new WeakMap<object, number>();
  // Counts at the transport's send (every write and writelines).
  const proto = StreamTransport.prototype as unknown as { send(d: unknown): void };
  const send = proto.send;
  proto.send = function (this: object, data: unknown): void {
    writes++;
    const pass = passes();
    if (lastPass.get(this) === pass) samePass++;
    lastPass.set(this, pass);
    send.call(this, data);
  };
  const server = await startRespServer(loop, '127.0.0.1', 0);
  const port = (server.sockets()[0] as { port: number }).port;
  await redisBenchmark(port, 'get', pipeline, requests);
  server.close();
  await server.waitClosed();
  return { requests, pipeline, writes, writesToAStreamAlreadyWrittenInThePass: samePass };
}

const [what, a, b] = process.argv.slice(2);
const result =
  what === 'resp'
    ? await resp(Number(a ?? 100_000), Number(b ?? 16))
    : await echo(Number(a ?? 3), Number(b ?? 50));
console.log(JSON.stringify(result));
loop.close();
// Let the closed transports' handles finish closing before the Loop does.
for (let i = 0; i < 200 && Object.keys(uv.handleCounts()).length > 0; i++)
  await new Promise((r) => setTimeout(r, 5));
uv.close();
