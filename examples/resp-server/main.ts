// The RESP server: `node dist/examples/resp-server/main.js [--loop uv|node]
// [--host 127.0.0.1] [--port 6390]`. The same RespProtocol runs on either loop.
import { parseArgs } from 'node:util';
import { NodeEventLoop } from '../../adapters/index.js';
import { UvEventLoop, type AbstractEventLoop } from '../../loop/index.js';
import { RespProtocol } from './resp-protocol.js';
import { ServerState } from './server-info.js';
import { Store } from './store.js';

export function makeLoop(kind: string): AbstractEventLoop {
  if (kind === 'uv') return new UvEventLoop();
  if (kind === 'node') return new NodeEventLoop();
  throw new Error(`--loop must be uv or node, not ${kind}`);
}

export async function startRespServer(loop: AbstractEventLoop, host: string, port: number) {
  const store = new Store();
  const state = new ServerState();
  return loop.createServer(() => new RespProtocol(store, state), host, port);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      loop: { type: 'string', default: 'uv' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '6390' },
    },
  });
  const loop = makeLoop(values.loop!);
  const server = await startRespServer(loop, values.host!, Number(values.port));
  console.log(
    `RESP server on ${values.host}:${values.port} (${values.loop} loop); Ctrl-C stops it`,
  );
  loop.addSignalHandler('SIGINT', () => server.close());
  loop.addSignalHandler('SIGTERM', () => server.close());
  await server.serveForever();
  await server.waitClosed();
  loop.close();
}
