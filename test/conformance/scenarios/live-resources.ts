// liveResources(), the leak check every loop offers: the same kinds, counted
// the same way, on every loop, and empty once everything is closed.
import type { AbstractEventLoop, Protocol } from 'asyncuv';
import { makeFifo } from '../fifo.js';
import { type MakeLoop, type Test, future, testIf, until, withLoop } from '../harness.js';

async function gone(loop: AbstractEventLoop): Promise<void> {
  await until(() => Object.keys(loop.liveResources()).length === 0, `liveResources() to empty: ${JSON.stringify(loop.liveResources())}`);
}

export function liveResources(test: Test, makeLoop: MakeLoop, name: string): void {
  test(`${name}: liveResources() counts servers, transports, endpoints, subprocesses, signals, timers and callbacks until they are gone`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      t.deepEqual(loop.liveResources(), {});
      const accepted = future();
      const server = await loop.createServer((): Protocol => ({ connectionMade: () => accepted.resolve() }), '127.0.0.1', 0);
      const [transport] = await loop.createConnection(() => ({}), '127.0.0.1', server.sockets()[0]!.port);
      await accepted.promise;
      const [endpoint] = await loop.createDatagramEndpoint(() => ({}), { localAddr: ['127.0.0.1', 0] });
      const [child] = await loop.subprocessExec(() => ({}), 'sleep', ['60'], { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' });
      loop.addSignalHandler('SIGUSR2', () => {});
      const timer = loop.callLater(3600, () => {});
      const soon = loop.callSoon(() => {});
      t.deepEqual(loop.liveResources(), { server: 1, transport: 2, datagram: 1, subprocess: 1, signal: 1, timer: 1, callback: 1 });

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

  testIf(test, makeLoop, 'addReader', `${name}: liveResources() counts the fds watched by addReader and addWriter`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const fifo = makeFifo();
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
    }));
}
