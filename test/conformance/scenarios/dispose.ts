// Explicit resource management: `await using` a server (asyncio's
// `async with server`: close(), then wait_closed(), connections included),
// `await using` a StreamWriter, and `using` the loop itself.
import { once } from 'node:events';
import net from 'node:net';
import {
  type AbstractEventLoop,
  type Server,
  type StreamWriter,
  openConnection,
  startServer,
} from 'asyncuv';
import { netConnect, portOf, settledSoon } from '../peers.js';
import { cases, type MakeLoop, type Test, future, within } from '../harness.js';

export function dispose(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = cases(test, makeLoop, `${name}: dispose`);

  it('await using a server: closed at the end of the scope, no address left', async ({
    loop,
  }, t) => {
    let kept: Server | undefined;
    {
      await using server = await loop.createServer(() => ({}), '127.0.0.1', 0);
      kept = server;
      t.true(server.isServing());
    }
    t.false(kept.isServing());
    t.deepEqual(kept.sockets(), []);
    await within(kept.waitClosed(), 'waitClosed after dispose');
  });

  it('disposing a server waits for its open connections, as asyncio 3.12 wait_closed', async ({
    loop,
  }, t) => {
    const handled = future<StreamWriter>();
    const server = await startServer((_reader, writer) => handled.resolve(writer), '127.0.0.1', 0, {
      loop,
    });
    const client = await netConnect(portOf(server));
    const writer = await within(handled.promise, 'the handler');
    const disposing = server[Symbol.asyncDispose]();
    t.false(await settledSoon(disposing), 'a connection is open: dispose waits');
    t.deepEqual(server.sockets(), [], 'but it stopped listening at once');
    const ended = once(client, 'close');
    writer.close();
    await within(ended, 'the client sees the close');
    await within(disposing, 'dispose once the connection is gone');
  });

  it('await using a StreamWriter: closed and gone at the end of the scope; a reset is not thrown', async ({
    loop,
  }, t) => {
    const server = await startServer(
      async (reader, writer) => {
        writer.write(await reader.read(100));
        await writer.drain();
        writer.close();
      },
      '127.0.0.1',
      0,
      { loop },
    );
    let kept: StreamWriter | undefined;
    {
      const { reader, writer } = await openConnection('127.0.0.1', portOf(server), { loop });
      await using w = writer;
      kept = w;
      w.write('ping');
      t.is((await reader.read(100)).toString(), 'ping');
    }
    t.true(kept.isClosing());
    await within(kept.waitClosed(), 'closed');

    // A peer that resets once it has read something: waitClosed() rejects
    // with ECONNRESET, disposing does not throw.
    const resetting = net.createServer((s) => s.once('data', () => s.resetAndDestroy()));
    resetting.listen(0, '127.0.0.1');
    await once(resetting, 'listening');
    let resetWriter: StreamWriter | undefined;
    {
      const { port } = resetting.address() as net.AddressInfo;
      const { reader, writer } = await openConnection('127.0.0.1', port, { loop });
      await using w = writer;
      resetWriter = w;
      w.write('x');
      await t.throwsAsync(reader.read(), { code: 'ECONNRESET' });
    }
    await t.throwsAsync(resetWriter.waitClosed(), { code: 'ECONNRESET' });
    resetting.close();
    server.close();
    await within(server.waitClosed(), 'the server closed');
  });

  it('using the loop closes it at the end of the scope; a running loop refuses with ERR_LOOP_RUNNING', async ({
    loop,
  }, t) => {
    let kept: AbstractEventLoop | undefined;
    {
      using l = loop;
      kept = l;
      t.false(l.isClosed());
    }
    t.true(kept.isClosed());
    kept[Symbol.dispose](); // a closed loop: nothing more, as close()

    const fresh = makeLoop();
    const running = fresh.loop.runForever();
    t.throws(() => fresh.loop[Symbol.dispose](), { code: 'ERR_LOOP_RUNNING' });
    fresh.loop.stop();
    await within(running, 'runForever after stop');
    fresh.loop[Symbol.dispose]();
    t.true(fresh.loop.isClosed());
    await fresh.settle(t);
  });
}
