// Edges of the transport and server contracts (test_selector_events.py:
// test_write_eof / write after write_eof, test_pause_resume_reading with
// repeats and after close, abort clearing the write buffer, empty writes;
// test_transports.py: test_flowcontrol_mixin_set_write_limits;
// test_events.py test_create_server: the accepted transport's names;
// test_server.py: test_wait_closed_basic, serve_forever on a closed or
// already served server).
import { setTimeout as sleep } from 'node:timers/promises';
import { connectedTo, netConnect, portOf, readToEnd } from '../peers.js';
import { type MakeLoop, type Test, future, until, withLoop, within } from '../harness.js';
import { CallLog } from '../protocols.js';

export function transportEdges(test: Test, makeLoop: MakeLoop, name: string): void {
  test(`${name}: write() after writeEof() throws ERR_TRANSPORT_EOF; a second writeEof() is a no-op`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto, peer } = await connectedTo(loop, () => new CallLog());
      try {
        const got = readToEnd(peer);
        transport.write('before');
        transport.writeEof();
        transport.writeEof();
        t.throws(() => transport.write('after'), { code: 'ERR_TRANSPORT_EOF' });
        t.throws(() => transport.writelines(['after']), { code: 'ERR_TRANSPORT_EOF' });
        t.is((await within(got, 'peer EOF')).toString(), 'before');
        t.false(transport.isClosing(), 'a half-closed transport is not closing');
        transport.close();
        transport.writeEof();
        t.is(await within(proto.lost.promise, 'connectionLost'), null);
      } finally {
        await server.close();
      }
    }));

  test(`${name}: empty writes send nothing and raise nothing; a Uint8Array is written as is`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto, peer } = await connectedTo(loop, () => new CallLog());
      try {
        const got = readToEnd(peer);
        transport.write('');
        transport.write(Buffer.alloc(0));
        transport.writelines([]);
        t.is(transport.getWriteBufferSize(), 0);
        transport.write(new Uint8Array([104, 105]));
        transport.close();
        t.is((await within(got, 'peer EOF')).toString(), 'hi');
        await within(proto.lost.promise, 'connectionLost');
      } finally {
        await server.close();
      }
    }));

  test(`${name}: pauseReading and resumeReading are idempotent, and no-ops after close()`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto, peer } = await connectedTo(loop, () => new CallLog());
      try {
        t.true(transport.isReading());
        transport.pauseReading();
        transport.pauseReading();
        t.false(transport.isReading());
        peer.write('held');
        await sleep(20);
        t.deepEqual(proto.calls, ['made'], 'no data while paused');
        transport.resumeReading();
        transport.resumeReading();
        t.true(transport.isReading());
        await until(() => proto.calls.includes('data'), 'data after resumeReading');
        transport.close();
        t.false(transport.isReading(), 'a closing transport is not reading');
        t.notThrows(() => transport.pauseReading());
        t.notThrows(() => transport.resumeReading());
        t.false(transport.isReading());
        t.is(await within(proto.lost.promise, 'connectionLost'), null);
        t.false(transport.isReading());
      } finally {
        await server.close();
      }
    }));

  test(`${name}: a paused transport still ends: close() while paused reading calls connectionLost`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto, peer } = await connectedTo(loop, () => new CallLog());
      try {
        transport.pauseReading();
        peer.end('unread');
        await sleep(20);
        transport.close();
        t.is(await within(proto.lost.promise, 'connectionLost'), null);
        t.deepEqual(proto.calls, ['made', 'lost'], 'nothing delivered while paused, no EOF');
      } finally {
        await server.close();
      }
    }));

  test(`${name}: lowering the high-water mark below the buffered size calls pauseWriting at once`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto, peer } = await connectedTo(
        loop,
        () => new CallLog(),
        (s) => s.pause(),
      );
      try {
        transport.setWriteBufferLimits({ high: 256 * 1024 * 1024 });
        const chunk = Buffer.alloc(1024 * 1024, 'w');
        let written = 0;
        // No await: the kernel cannot drain meanwhile, so a few writes fill it.
        while (transport.getWriteBufferSize() < 64 * 1024 && written < 64 * 1024 * 1024) {
          transport.write(chunk);
          written += chunk.length;
        }
        const size = transport.getWriteBufferSize();
        t.deepEqual(proto.calls, ['made']);
        transport.setWriteBufferLimits({ high: 1024, low: 128 });
        t.deepEqual(transport.getWriteBufferLimits(), [128, 1024]);
        t.deepEqual(proto.calls, ['made', 'pause'], `paused by the call itself (${size} buffered)`);
        let received = 0;
        peer.on('data', (d: Buffer) => (received += d.length));
        peer.resume();
        await until(() => proto.calls.includes('resume'), 'resumeWriting');
        await until(() => received === written, 'every byte');
        t.deepEqual(proto.calls, ['made', 'pause', 'resume']);
        transport.close();
        await within(proto.lost.promise, 'connectionLost');
      } finally {
        await server.close();
      }
    }));

  test(`${name}: abort() discards the write buffer: getWriteBufferSize() is 0 at once`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto } = await connectedTo(
        loop,
        () => new CallLog(),
        (s) => s.pause(),
      );
      try {
        const chunk = Buffer.alloc(1024 * 1024, 'a');
        for (let i = 0; i < 64 && transport.getWriteBufferSize() === 0; i++) transport.write(chunk);
        transport.abort();
        t.is(transport.getWriteBufferSize(), 0);
        t.is(await within(proto.lost.promise, 'connectionLost'), null);
        t.false(proto.calls.includes('resume'), 'an abort does not resume writing');
      } finally {
        await server.close();
      }
    }));

  test(`${name}: an accepted transport's sockname is the server's address and peername the client's`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const accepted = future<CallLog>();
      const server = await loop.createServer(
        () => {
          const p = new CallLog();
          queueMicrotask(() => accepted.resolve(p));
          return p;
        },
        '127.0.0.1',
        0,
      );
      const port = portOf(server);
      const client = await netConnect(port);
      try {
        const proto = await within(accepted.promise, 'accept');
        await until(() => proto.transport !== undefined, 'connectionMade');
        const transport = proto.transport!;
        t.deepEqual(transport.getExtraInfo('sockname'), ['127.0.0.1', port]);
        t.deepEqual(transport.getExtraInfo('peername'), ['127.0.0.1', client.localPort]);
        t.is(transport.getExtraInfo('no-such-name'), undefined);
        t.is(transport.getExtraInfo('no-such-name', 'dflt'), 'dflt');
        transport.close();
        await within(proto.lost.promise, 'connectionLost');
      } finally {
        client.destroy();
        server.close();
        await within(server.waitClosed(), 'waitClosed');
      }
    }));

  test(`${name}: server.waitClosed() waits while the server is open, even without connections`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await loop.createServer(() => new CallLog(), '127.0.0.1', 0);
      t.is(server.getLoop(), loop);
      let settled = false;
      const waiting = server.waitClosed().then(() => (settled = true));
      await sleep(20);
      t.false(settled);
      server.close();
      t.false(server.isServing());
      t.deepEqual(server.sockets(), []);
      server.close();
      await within(waiting, 'waitClosed');
      await within(server.waitClosed(), 'waitClosed after the close');
    }));

  test(`${name}: serveForever() on a closed server rejects; a second serveForever() rejects`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await loop.createServer(() => new CallLog(), '127.0.0.1', 0);
      const first = server.serveForever();
      await until(() => server.isServing(), 'serving');
      await t.throwsAsync(within(server.serveForever(), 'second serveForever'), {
        code: 'ERR_INVALID_STATE',
        message: /already being awaited/,
      });
      t.true(server.isServing(), 'the refused call leaves the first one serving');
      server.close();
      await within(first, 'serveForever resolves on close');
      await t.throwsAsync(within(server.serveForever(), 'serveForever on a closed server'), {
        code: 'ERR_INVALID_STATE',
        message: /is closed/,
      });
      await within(server.waitClosed(), 'waitClosed');
    }));
}
