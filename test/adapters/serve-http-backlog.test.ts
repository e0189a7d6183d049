// serveHttp listens with node:http's backlog (511), not asyncio's
// createServer default (100): a burst of connections (200 WebSocket clients
// opening at once, a load generator's ramp) overflowed a 100-deep accept
// queue, and each dropped SYN cost its client a 1 s retransmission. The
// backlog is read back through ss(8) (the Send-Q of a listening socket),
// side by side with a node:http server's; a given backlog still wins.
import test from 'ava';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { serveHttp } from 'asyncuv';
import { onUvEventLoop } from '../helpers/event-loop-test.js';
import { withPrograms } from '../helpers/tools.js';

/** The backlog of the socket listening on `port`, as ss(8) shows it (Send-Q). */
async function backlogOf(port: number): Promise<number> {
  const args = ['-ltnH', `( sport = :${port} )`];
  const { stdout } = await promisify(execFile)('ss', args);
  // State Recv-Q Send-Q Local:Port Peer:Port
  const fields = stdout.trim().split(/\s+/);
  return Number(fields[2]);
}

const listener: http.RequestListener = (_req, res) => res.end('ok');

withPrograms(test, ['ss'])(
  "serveHttp listens with node:http's backlog, 511, unless listen.backlog says otherwise",
  (t) =>
    onUvEventLoop(t, async (loop) => {
      const reference = http.createServer(listener);
      reference.listen(0, '127.0.0.1');
      await once(reference, 'listening');
      const nodeBacklog = await backlogOf((reference.address() as AddressInfo).port);
      reference.close();

      const ours = await serveHttp(loop, listener, '127.0.0.1', 0);
      const given = await serveHttp(loop, listener, '127.0.0.1', 0, { listen: { backlog: 64 } });
      try {
        t.is(nodeBacklog, 511);
        t.is(await backlogOf(ours.port), nodeBacklog);
        t.is(await backlogOf(given.port), 64);
      } finally {
        await ours.close();
        await given.close();
      }
    }),
);

test('serveHttp answers a burst of 300 connections opened at once', (t) =>
  onUvEventLoop(t, async (loop) => {
    const web = await serveHttp(loop, listener, '127.0.0.1', 0);
    try {
      const started = performance.now();
      const answers = await Promise.all(
        Array.from(
          { length: 300 },
          () =>
            new Promise<string>((resolve, reject) => {
              const socket = net.connect(web.port, '127.0.0.1', () =>
                socket.end('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
              );
              let text = '';
              socket.on('data', (d: Buffer) => (text += String(d)));
              socket.on('error', reject);
              socket.on('close', () => resolve(text.slice(-2)));
            }),
        ),
      );
      t.log(`${(performance.now() - started).toFixed(0)} ms for 300 connections`);
      t.deepEqual(new Set(answers), new Set(['ok']));
    } finally {
      await web.close();
    }
  }));
