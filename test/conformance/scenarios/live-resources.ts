// liveResources(), the leak check every loop offers: the same kinds, counted
// the same way, on every loop, and empty once everything is closed.
import type { AbstractEventLoop, Protocol } from 'asyncuv';
import { makeFifo } from '../fifo.js';
import { type MakeLoop, type Test, future, testIf, until, withLoop } from '../harness.js';

async function gone(loop: AbstractEventLoop): Promise<void> {
  const empty = (): boolean => Object.keys(loop.liveResources()).length === 0;
  await until(empty, `liveResources() to empty: ${JSON.stringify(loop.liveResources())}`);
}

export function liveResources(test: Test, makeLoop: MakeLoop, name: string): void {
  const kinds = 'servers, transports, endpoints, subprocesses, signals, timers and callbacks';
  test(`${name}: liveResources() counts ${kinds} until they are gone`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      t.deepEqual(loop.liveResources(), {});
      const accepted = future();
      const onAccept = (): Protocol => ({ connectionMade: () => accepted.resolve() });
      const server = await loop.createServer(onAccept, '127.0.0.1', 0);
      const port = server.sockets()[0]!.port;
      const [transport] = await loop.createConnection(() => ({}), '127.0.0.1', port);
      await accepted.promise;
      const [endpoint] = await loop.createDatagramEndpoint(() => ({}), {
        localAddr: ['127.0.0.1', 0],
      });
      const quiet = { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' } as const;
      const [child] = await loop.subprocessExec(() => ({}), 'sleep', ['60'], quiet);
      loop.addSignalHandler('SIGUSR2', () => {});
      const timer = loop.callLater(3600, () => {});
      const soon = loop.callSoon(() => {});
      t.deepEqual(loop.liveResources(), {
        server: 1,
        transport: 2,
        datagram: 1,
        subprocess: 1,
        signal: 1,
        timer: 1,
        callback: 1,
      });

      soon.cancel();
      timer.cancel();
      t.true(loop.removeSignalHandler('SIGUSR2'));
      t.deepEqual(loop.liveResources(), { server: 1, transport: 2, datagram: 1, subprocess: 1 });
      child.kill();
      endpoint.close();
      transport.close(); // the server side sees EOF and closes too
      server.close();
      await gone(loop);
    }));

  test(`${name}: liveResources() counts due timers and callbacks until they run`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const ran = future();
      loop.callLater(0, () => {});
      loop.callSoon(() => {});
      loop.callSoon(() => loop.callSoon(() => ran.resolve()));
      t.deepEqual(loop.liveResources(), { timer: 1, callback: 2 });
      await ran.promise;
      await gone(loop);
    }));

  const watched = `${name}: liveResources() counts the fds watched by addReader and addWriter`;
  testIf(test, makeLoop, 'addReader', watched, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const fifo = await makeFifo();
      try {
        loop.addReader(fifo.readFd, () => {});
        loop.addWriter(fifo.writeFd, () => loop.removeWriter(fifo.writeFd));
        t.deepEqual(loop.liveResources(), { reader: 1, writer: 1 });
        t.true(loop.removeReader(fifo.readFd));
        await gone(loop);
      } finally {
        loop.removeReader(fifo.readFd);
        loop.removeWriter(fifo.writeFd);
        fifo.dispose();
      }
    }),
  );
}
