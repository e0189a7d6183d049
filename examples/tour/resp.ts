// The RESP (Redis protocol) example server on UvEventLoop, driven by a
// node:net client sending pipelined SET/GET batches.
import net from 'node:net';
import { UvEventLoop } from '../../loop/index.js';
import { startRespServer } from '../resp-server/main.js';
import type { TourStep } from './step.js';

function command(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

export const resp: TourStep = {
  title: 'RESP server (examples/resp-server) on our loop, pipelined',
  async run(ctx) {
    const loop = new UvEventLoop();
    const server = await startRespServer(loop as never, '127.0.0.1', 0);
    const port = (server.sockets()[0] as { port: number }).port;
    const batches = 200;
    const perBatch = 50;
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const t0 = performance.now();
    let replies = 0;
    let lastGet = '';
    await new Promise<void>((resolve) => {
      let buffered = '';
      let batch = 0;
      const send = (): void => {
        ctx.progress(`RESP: batch ${batch + 1}/${batches}`);
        let out = '';
        for (let i = 0; i < perBatch / 2; i++)
          out += command('SET', `key:${i}`, `value ${batch}.${i}`) + command('GET', `key:${i}`);
        sock.write(out);
      };
      sock.on('data', (d) => {
        buffered += d.toString();
        // Each reply ends with \r\n; bulk replies have two lines.
        const lines = buffered.split('\r\n');
        buffered = lines.pop()!;
        for (const line of lines) {
          if (line === '+OK' || line.startsWith('$')) replies++;
          else lastGet = line;
        }
        if (replies >= (batch + 1) * perBatch) {
          if (++batch === batches) resolve();
          else send();
        }
      });
      send();
    });
    const ms = performance.now() - t0;
    sock.destroy();
    server.close();
    await server.waitClosed();
    loop.close();
    return [
      `${(batches * perBatch).toLocaleString('en')} commands in batches of ${perBatch}: ${Math.round((batches * perBatch) / (ms / 1000)).toLocaleString('en')} commands/s`,
      `last GET answered '${lastGet}'; redis-cli and redis-benchmark talk to it too (node dist/examples/resp-server/main.js)`,
    ];
  },
};
