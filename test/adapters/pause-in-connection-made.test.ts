// asyncio lets a protocol call pauseReading() from connectionMade (a server
// that wants to authenticate before it reads, a proxy that waits for its
// upstream): no data may arrive until resumeReading(). Checked on both loops.
import test from 'ava';
import net from 'node:net';
import { Loop, NodeEventLoop, UvEventLoop, type AbstractEventLoop, type Transport } from 'asyncuv';
import { CollectProtocol } from './protocols.js';

const loops: Array<[string, () => { loop: AbstractEventLoop; done: () => void }]> = [
  ['NodeEventLoop', () => ({ loop: new NodeEventLoop(), done: () => {} })],
  [
    'UvEventLoop',
    () => {
      const uv = new Loop();
      const loop = new UvEventLoop(uv);
      return { loop, done: () => uv.close() };
    },
  ],
];

class PausesAtOnce extends CollectProtocol {
  override connectionMade(t: Transport): void {
    super.connectionMade(t);
    t.pauseReading();
  }
}

for (const [name, make] of loops) {
  test.serial(
    `${name}: pauseReading() inside connectionMade holds data until resumeReading()`,
    async (t) => {
      const { loop, done } = make();
      const peers: net.Socket[] = [];
      const srv = net.createServer((s) => {
        peers.push(s);
        s.write('sent at once');
      });
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      const port = (srv.address() as net.AddressInfo).port;
      const [transport, protocol] = await loop.createConnection(
        () => new PausesAtOnce(),
        '127.0.0.1',
        port,
      );
      t.false(transport.isReading());
      await new Promise((r) => setTimeout(r, 100));
      t.is(protocol.received, 0, 'nothing delivered while paused');
      transport.resumeReading();
      t.true(transport.isReading());
      await protocol.until(12);
      t.is(protocol.data().toString(), 'sent at once');
      transport.close();
      t.is(await protocol.lost, null);
      srv.close();
      loop.close();
      done();
    },
  );
}
