// asyncio's rule on a batch of reads (native/loop_wrap.h rule 10): a
// transport paused by another protocol's dataReceived in the same pass gets
// no dataReceived until resumeReading(), though its bytes were already read
// from the socket; then they come in order, before its EOF.
import test from 'ava';
import net from 'node:net';
import { once } from 'node:events';
import type { Protocol, Transport } from 'asyncuv';
import { onUvEventLoop } from '../helpers/event-loop-test.js';
import { within } from '../helpers/loop-test.js';

test('pauseReading from an earlier dataReceived of the same batch holds the later reads back', (t) =>
  onUvEventLoop(t, async (loop) => {
    const events: string[] = [];
    const transports: Transport[] = [];
    let paused = false;
    let eofs = 0;
    let allEof!: () => void;
    const ended = new Promise<void>((resolve) => (allEof = resolve));
    const server = await loop.createServer(
      (): Protocol => {
        const i = transports.length;
        let mine: Transport;
        return {
          connectionMade: (tr: Transport) => {
            mine = tr;
            transports.push(tr);
          },
          dataReceived: (data: Buffer) => {
            events.push(`data ${i}: ${data.toString()}`);
            if (paused) return;
            paused = true;
            const others = transports.filter((tr) => tr !== mine);
            for (const tr of others) tr.pauseReading();
            loop.callSoon(() => {
              events.push('resume');
              for (const tr of others) tr.resumeReading();
            });
          },
          eofReceived: () => {
            events.push(`eof ${i}`);
            if (++eofs === 3) allEof();
            return false;
          },
        };
      },
      '127.0.0.1',
      0,
    );
    const port = server.sockets()[0]!.port;
    const sockets = await Promise.all(
      [0, 1, 2].map(async () => {
        const s = net.connect(port, '127.0.0.1');
        await once(s, 'connect');
        return s;
      }),
    );
    await within(
      (async () => {
        while (transports.length < 3) await new Promise((r) => setTimeout(r, 5));
      })(),
      'three connections',
      10_000,
    );
    // Written in one turn of Node's loop: the server reads them in one pass.
    sockets.forEach((s, i) => s.end(`m${i}`));
    await within(ended, 'three EOFs', 10_000);
    const first = events[0]!;
    t.regex(first, /^data \d: m\d$/);
    const resumed = events.indexOf('resume');
    t.true(resumed > 0, `${events}`);
    for (const i of [0, 1, 2]) {
      const data = events.indexOf(`data ${i}: m${i}`);
      t.true(data >= 0, `${events}`);
      if (events[0] !== `data ${i}: m${i}`) t.true(data > resumed, `held until resumed: ${events}`);
      t.true(events.indexOf(`eof ${i}`) > data, `EOF after the data: ${events}`);
    }
    t.is(events.length, 7, `${events}`);
    for (const s of sockets) s.destroy();
    server.close();
    await server.waitClosed();
  }));
