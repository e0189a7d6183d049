// close() releases everything the loop still holds, and nothing of a closed
// loop runs any more (docs/loop.md, "Closing"): transports and endpoints are
// closed at once (queued writes dropped, connectionLost not called),
// servers stop listening, a running child is killed, pending stream reads
// reject with ERR_LOOP_CLOSED. In JavaScript an open socket or child keeps
// the process alive, so a loop that let them live would keep a program that
// used run() from exiting.
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSubprocessExec, openConnection, type Transport, type WriteTransport } from 'asyncuv';
import { MyDatagramProto, MySubprocessProtocol } from '../protocols.js';
import { type MakeLoop, type Test, testIf, until, withLoop, within } from '../harness.js';
import { netServer } from '../peers.js';

/** Whether `pid` is still a process (a reaped child is not). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function closeReleases(test: Test, makeLoop: MakeLoop, name: string): void {
  test(`${name}: close() from a callSoon callback, the loop not running, drops the rest`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const calls: string[] = [];
      loop.callSoon(() => {
        calls.push('a');
        loop.close();
        calls.push(loop.isClosed() ? 'closed' : 'open');
      });
      loop.callSoon(() => calls.push('b'));
      loop.callLater(0, () => calls.push('timer'));
      await until(() => loop.isClosed(), 'close() from the callback');
      // Give the underlying loop turns in which a dropped callback would run.
      await sleep(30);
      t.deepEqual(calls, ['a', 'closed']);
    }));

  test(`${name}: close() closes a connection whose peer keeps sending; no callback after`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const peers = await netServer((socket) => {
        const timer = setInterval(() => socket.write('tick'), 5);
        socket.on('close', () => clearInterval(timer));
      });
      try {
        const calls: string[] = [];
        await loop.createConnection(
          () => ({
            dataReceived: () => void calls.push('data'),
            eofReceived: () => void calls.push('eof'),
            connectionLost: () => void calls.push('lost'),
          }),
          '127.0.0.1',
          peers.port,
        );
        await until(() => calls.length > 0, 'the first data');
        const peer = peers.sockets[0]!;
        // The peer may see a reset (its ticks were unread): 'close' either way.
        const peerClosed = new Promise((resolve) => peer.once('close', resolve));
        loop.close();
        const before = calls.length;
        await within(peerClosed, 'the peer to see the connection end');
        await sleep(30);
        t.is(calls.length, before, 'no protocol callback after close()');
        t.false(calls.includes('lost'));
      } finally {
        await peers.close();
      }
    }));

  test(`${name}: close() stops a server and closes the connections it accepted`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const accepted: Transport[] = [];
      const server = await loop.createServer(
        () => ({
          connectionMade: (tr: Transport) => void accepted.push(tr),
        }),
        '127.0.0.1',
        0,
      );
      const port = (server.sockets()[0] as { port: number }).port;
      const client = net.connect(port, '127.0.0.1');
      client.on('error', () => {});
      await once(client, 'connect');
      await until(() => accepted.length === 1, 'the accepted connection');
      const clientClosed = once(client, 'close');
      loop.close();
      t.false(server.isServing());
      t.true(accepted[0]!.isClosing());
      await within(clientClosed, 'the client to see the connection end');
      await within(server.waitClosed(), 'waitClosed');
      const refused = net.connect(port, '127.0.0.1');
      const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
      t.is(err.code, 'ECONNREFUSED');
    }));

  test(`${name}: close() closes a datagram endpoint`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const [transport, proto] = await loop.createDatagramEndpoint(() => new MyDatagramProto(), {
        localAddr: ['127.0.0.1', 0],
      });
      loop.close();
      t.true(transport.isClosing());
      await sleep(30);
      t.not(proto.state, 'CLOSED', 'connectionLost is not called by a closed loop');
    }));

  testIf(test, makeLoop, 'subprocess', `${name}: close() kills a running child`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const [transport, proto] = await loop.subprocessExec(() => new MySubprocessProtocol(), 'cat');
      (transport.getPipeTransport(0) as WriteTransport).write('ping');
      await until(() => proto.data[1]!.toString() === 'ping', 'cat running');
      const pid = transport.getPid();
      loop.close();
      await until(() => !processExists(pid), 'the child to be killed and reaped');
      t.false(proto.exited, 'processExited is not called by a closed loop');
    }),
  );

  // docs/loop.md, "Closing": a start in flight rejects with ERR_LOOP_CLOSED.
  // A connect to the loop's own server is the hard case: close() closes the
  // listener with the connection still in its backlog, and the kernel
  // resets it, so the connect's own failure (ECONNRESET) arrives after
  // close() and must not be what the caller sees.
  test(`${name}: close() while createConnection reaches the loop's own server: ERR_LOOP_CLOSED, never the reset`, async (t) => {
    for (let i = 0; i < 32; i++) {
      const fixture = makeLoop();
      const { loop } = fixture;
      const server = await loop.createServer(() => ({}), '127.0.0.1', 0);
      const connecting = loop.createConnection(() => ({}), '127.0.0.1', server.sockets()[0]!.port);
      connecting.catch(() => {});
      // Not a wait for an event: the moment of the close is what varies.
      for (let turn = 0; turn < i % 4; turn++) await new Promise((r) => setImmediate(r));
      loop.close();
      const outcome = await within(
        connecting.then(
          () => 'connected before close()',
          (err: { code?: string }) => err.code,
        ),
        `createConnection (${i % 4} turns)`,
      );
      t.true(
        outcome === 'ERR_LOOP_CLOSED' || outcome === 'connected before close()',
        `${i % 4} turns: ${String(outcome)}`,
      );
      await fixture.settle(t);
    }
  });

  const streamsTitle = `${name}: close() with a subprocess stream's read and wait() pending`;
  testIf(test, makeLoop, 'subprocess', streamsTitle, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const proc = await createSubprocessExec('cat', [], { loop, stdin: 'pipe', stdout: 'pipe' });
      const read = proc.stdout!.read(10);
      const exit = proc.wait();
      loop.close();
      await t.throwsAsync(within(read, 'the read'), { code: 'ERR_LOOP_CLOSED' });
      await t.throwsAsync(within(exit, 'wait()'), { code: 'ERR_LOOP_CLOSED' });
      await until(() => !processExists(proc.pid), 'the child to be killed and reaped');
    }),
  );

  test(`${name}: close() with a stream read pending: the read rejects with ERR_LOOP_CLOSED`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const peers = await netServer();
      try {
        const { reader, writer } = await openConnection('127.0.0.1', peers.port, { loop });
        const read = reader.read(10);
        loop.close();
        await t.throwsAsync(within(read, 'the read'), { code: 'ERR_LOOP_CLOSED' });
        t.true(writer.transport.isClosing());
      } finally {
        await peers.close();
      }
    }));
}
