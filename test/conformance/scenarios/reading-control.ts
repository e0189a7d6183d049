// Reading held back from the start, and EOF while paused
// (test_selector_events.py: pause_reading in connection_made keeps the
// first bytes back, test_pause_resume_reading; _read_ready only runs while
// reading, so EOF waits for resume_reading; get_extra_info('socket')).
import { setTimeout as sleep } from 'node:timers/promises';
import { connectedTo, netServer } from '../peers.js';
import { type MakeLoop, type Test, until, withLoop, within } from '../harness.js';
import { CallLog } from '../protocols.js';

export function readingControl(test: Test, makeLoop: MakeLoop, name: string): void {
  test(`${name}: pauseReading() inside connectionMade holds the peer's first bytes until resumeReading()`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await netServer((s) => s.write('first bytes'));
      try {
        const [transport, proto] = await loop.createConnection(
          () => new CallLog(true),
          '127.0.0.1',
          server.port,
        );
        t.false(transport.isReading());
        await sleep(30);
        t.deepEqual(proto.calls, ['made'], 'nothing delivered while paused');
        transport.resumeReading();
        await until(() => Buffer.concat(proto.data).toString() === 'first bytes', 'the bytes');
        transport.close();
        t.is(await within(proto.lost.promise, 'connectionLost'), null);
      } finally {
        await server.close();
      }
    }));

  test(`${name}: EOF that arrives while reading is paused is delivered after resumeReading(), behind the data`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto, peer } = await connectedTo(loop, () => new CallLog());
      try {
        transport.pauseReading();
        peer.end('last words');
        await sleep(30);
        t.deepEqual(proto.calls, ['made'], 'neither data nor EOF while paused');
        t.false(transport.isClosing());
        transport.resumeReading();
        t.is(await within(proto.lost.promise, 'connectionLost'), null);
        t.deepEqual(proto.calls, ['made', 'data', 'eof', 'lost']);
        t.is(Buffer.concat(proto.data).toString(), 'last words');
      } finally {
        await server.close();
      }
    }));

  test(`${name}: getExtraInfo('socket') is set for a TCP transport; the names outlive the connection`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto } = await connectedTo(loop, () => new CallLog());
      try {
        t.not(transport.getExtraInfo('socket'), undefined);
        t.deepEqual(transport.getExtraInfo('peername'), ['127.0.0.1', server.port]);
        transport.close();
        await within(proto.lost.promise, 'connectionLost');
        t.deepEqual(
          transport.getExtraInfo('peername'),
          ['127.0.0.1', server.port],
          'extra info outlives the connection, as asyncio keeps _extra',
        );
      } finally {
        await server.close();
      }
    }));
}
