// stop() from inside a callback ends the iteration: no other callback of
// the loop (queued callbacks, due timers, fd watchers, transport I/O) runs
// before the code awaiting runForever() resumes; what was held runs after,
// in order. (asyncio still runs the rest of the current batch before
// run_forever() returns; see docs/loop.md.)
import { writeSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { fromDuplex, type BaseEventLoop, type Transport } from 'asyncuv';
import { connectedTcpFd } from '../../helpers/socket-fd.js';
import { makeFifo } from '../fifo.js';
import { type MakeLoop, type Test, testIf, until, withLoop, within } from '../harness.js';
import { netServer } from '../peers.js';

const MiB = 1024 * 1024;

export function stopInCallback(test: Test, makeLoop: MakeLoop, name: string): void {
  test(`${name}: stop() in a callback: queued callbacks and due timers wait for the awaiter`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const calls: string[] = [];
      loop.callSoon(() => {
        calls.push('a');
        loop.stop();
        t.true(loop.isRunning(), 'running until the callback returns');
        loop.callSoon(() => calls.push('c'));
      });
      loop.callSoon(() => calls.push('b'));
      loop.callLater(0, () => calls.push('timer'));
      await within(loop.runForever(), 'runForever');
      t.deepEqual(calls, ['a'], 'nothing else ran before the awaiting code resumed');
      t.false(loop.isRunning());
      // The loop still processes its work once stopped, in order.
      await until(() => calls.length === 4, 'the held callbacks');
      t.deepEqual(calls, ['a', 'b', 'timer', 'c']);
    }));

  test(`${name}: stop() in a timer callback: a timer due at the same time waits`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const calls: string[] = [];
      const when = loop.time() + 0.01;
      loop.callAt(when, () => {
        calls.push('t1');
        loop.stop();
      });
      loop.callAt(when, () => calls.push('t2'));
      await within(loop.runForever(), 'runForever');
      t.deepEqual(calls, ['t1']);
      await until(() => calls.length === 2, 'the second timer');
      t.deepEqual(calls, ['t1', 't2']);
    }));

  test(`${name}: stop() in dataReceived during a 1 MiB burst: one call, then the awaiter`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const peers = await netServer((socket) => socket.end(Buffer.alloc(MiB, 7)));
      try {
        let calls = 0;
        let received = 0;
        const [transport] = await loop.createConnection(
          () => ({
            connectionMade: (tr: Transport) => tr.pauseReading(),
            dataReceived: (data: Buffer) => {
              calls++;
              received += data.length;
              if (calls === 1) loop.stop();
            },
          }),
          '127.0.0.1',
          peers.port,
        );
        // Let the bytes pile up in the kernel so that reading resumes on a burst.
        const sent = (): boolean => (peers.sockets[0]?.writableLength ?? MiB) < MiB;
        await until(sent, 'the peer to send');
        loop.callSoon(() => transport.resumeReading());
        await within(loop.runForever(), 'runForever');
        t.is(calls, 1, 'dataReceived ran once before the awaiting code resumed');
        await until(() => received === MiB, 'the rest of the bytes, after');
        transport.close();
      } finally {
        await peers.close();
      }
    }));

  test(`${name}: stop() in dataReceived of a Node stream emitting buffered chunks in one go`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      // A paused Readable hands every buffered chunk over synchronously when
      // it resumes: the transport must hold the rest once the loop stopped.
      const stream = new PassThrough();
      const chunks: string[] = [];
      const [transport] = fromDuplex(
        stream,
        () => ({
          connectionMade: (tr: Transport) => tr.pauseReading(),
          dataReceived: (data: Buffer) => {
            chunks.push(data.toString());
            if (chunks.length === 1) loop.stop();
          },
        }),
        { loop: loop as unknown as BaseEventLoop },
      );
      await within(new Promise<void>((resolve) => loop.callSoon(resolve)), 'connectionMade');
      for (const piece of ['a', 'b', 'c', 'd']) stream.write(piece);
      loop.callSoon(() => transport.resumeReading());
      await within(loop.runForever(), 'runForever');
      t.deepEqual(chunks, ['a'], 'one chunk before the awaiting code resumed');
      await until(() => chunks.length === 4, 'the held chunks, after');
      t.deepEqual(chunks, ['a', 'b', 'c', 'd']);
      transport.close();
    }));

  testIf(test, makeLoop, 'addReader', `${name}: stop() in a writer callback: it runs once`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const fifo = await makeFifo();
      try {
        let calls = 0;
        loop.addWriter(fifo.writeFd, () => {
          calls++;
          loop.stop();
        });
        await within(loop.runForever(), 'runForever');
        t.is(calls, 1);
        t.true(loop.removeWriter(fifo.writeFd));
      } finally {
        fifo.dispose();
      }
    }),
  );

  testIf(test, makeLoop, 'addReader', `${name}: stop() in a reader: another reader waits`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const fifos = await Promise.all([makeFifo(), makeFifo()]);
      try {
        const calls: number[] = [];
        for (const [i, fifo] of fifos.entries()) {
          writeSync(fifo.writeFd, 'x');
          loop.addReader(fifo.readFd, () => {
            calls.push(i);
            fifo.readNow();
            loop.stop();
          });
        }
        await within(loop.runForever(), 'runForever');
        t.is(calls.length, 1, `one reader ran before the awaiting code (${calls.join(',')})`);
        for (const fifo of fifos) loop.removeReader(fifo.readFd);
      } finally {
        for (const fifo of fifos) fifo.dispose();
      }
    }),
  );

  testIf(test, makeLoop, 'addReader', `${name}: stop() in a reader: its fd's writer waits`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      // A connected TCP socket is both readable (the peer wrote) and writable.
      const peers = await netServer((socket) => socket.write('x'));
      const socket = await connectedTcpFd(peers.port);
      try {
        const wrote = (): boolean => peers.sockets[0]?.bytesWritten === 1;
        await until(wrote, 'the peer to write');
        const fd = socket.fd;
        let readerCalls = 0;
        let writerCalls = 0;
        loop.addReader(fd, () => {
          readerCalls++;
          loop.stop();
        });
        loop.addWriter(fd, () => void writerCalls++);
        await within(loop.runForever(), 'runForever');
        t.deepEqual([readerCalls, writerCalls], [1, 0]);
        loop.removeReader(fd);
        loop.removeWriter(fd);
      } finally {
        socket.close();
        await peers.close();
      }
    }),
  );
}
