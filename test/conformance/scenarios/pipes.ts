// Pipe transports (test_events.py: test_read_pipe, test_write_pipe,
// test_write_pipe_disconnect_on_close, test_read_pipe extra info). The
// transport owns the fd it was given and closes it.
import { writeSync } from 'node:fs';
import type { Protocol, Transport } from 'asyncuv';
import { makeFifo } from '../fifo.js';
import { MyWritePipeProto } from '../protocols.js';
import { type MakeLoop, type Test, future, testIf, until, withLoop, within } from '../harness.js';

/** CPython's MyReadPipeProto: states as a list, INITIAL, CONNECTED, EOF, CLOSED. */
class MyReadPipeProto implements Protocol {
  state: string[] = ['INITIAL'];
  nbytes = 0;
  transport: Transport | undefined;
  readonly lost = future<Error | null>();
  connectionMade(t: Transport): void {
    this.transport = t;
    this.state.push('CONNECTED');
  }
  dataReceived(data: Buffer): void {
    this.nbytes += data.length;
  }
  eofReceived(): void {
    this.state.push('EOF');
  }
  connectionLost(err: Error | null): void {
    if (!this.state.includes('EOF')) this.state.push('EOF');
    this.state.push('CLOSED');
    this.lost.resolve(err);
  }
}

export function pipes(test: Test, makeLoop: MakeLoop, name: string): void {
  testIf(
    test,
    makeLoop,
    'pipes',
    `${name}: connectReadPipe reads what is written, then EOF and CLOSED when the writer closes`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const fifo = await makeFifo();
        try {
          const proto = new MyReadPipeProto();
          const [transport, p] = await loop.connectReadPipe(() => proto, fifo.readFd);
          fifo.closeRead = () => {}; // the transport owns the read end now
          t.is(p, proto);
          t.deepEqual(proto.state, ['INITIAL', 'CONNECTED']);
          t.not(transport.getExtraInfo('pipe'), undefined);
          writeSync(fifo.writeFd, '1');
          await until(() => proto.nbytes >= 1, 'first byte');
          t.is(proto.nbytes, 1);
          writeSync(fifo.writeFd, '2345');
          await until(() => proto.nbytes >= 5, 'more bytes');
          t.is(proto.nbytes, 5);
          t.deepEqual(proto.state, ['INITIAL', 'CONNECTED']);
          fifo.closeWrite();
          t.is(await within(proto.lost.promise, 'connectionLost'), null);
          t.deepEqual(proto.state, ['INITIAL', 'CONNECTED', 'EOF', 'CLOSED']);
        } finally {
          fifo.dispose();
        }
      }),
  );

  testIf(
    test,
    makeLoop,
    'pipes',
    `${name}: connectReadPipe: pauseReading holds data back until resumeReading`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const fifo = await makeFifo();
        try {
          const proto = new MyReadPipeProto();
          const [transport] = await loop.connectReadPipe(() => proto, fifo.readFd);
          fifo.closeRead = () => {};
          transport.pauseReading();
          t.false(transport.isReading());
          writeSync(fifo.writeFd, 'abc');
          await new Promise((r) => setTimeout(r, 30));
          t.is(proto.nbytes, 0);
          transport.resumeReading();
          await until(() => proto.nbytes === 3, 'data after resume');
          transport.close();
          await within(proto.lost.promise, 'connectionLost');
        } finally {
          fifo.dispose();
        }
      }),
  );

  testIf(
    test,
    makeLoop,
    'pipes',
    `${name}: connectWritePipe writes in order and closes with CLOSED`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const fifo = await makeFifo();
        try {
          const proto = new MyWritePipeProto();
          const [transport, p] = await loop.connectWritePipe(() => proto, fifo.writeFd);
          fifo.closeWrite = () => {};
          t.is(p, proto);
          t.is(transport as unknown, proto.transport);
          t.is(proto.state, 'CONNECTED');
          let data = Buffer.alloc(0);
          transport.write('1');
          await until(
            () => (data = Buffer.concat([data, fifo.readNow()])).length >= 1,
            'first byte',
          );
          t.is(data.toString(), '1');
          transport.write('2345');
          await until(
            () => (data = Buffer.concat([data, fifo.readNow()])).length >= 5,
            'more bytes',
          );
          t.is(data.toString(), '12345');
          t.is(proto.state, 'CONNECTED');
          t.not(transport.getExtraInfo('pipe'), undefined);
          transport.close();
          t.is(await within(proto.lost.promise, 'connectionLost'), null);
          t.is(proto.state, 'CLOSED');
        } finally {
          fifo.dispose();
        }
      }),
  );

  testIf(
    test,
    makeLoop,
    'pipes',
    `${name}: a write pipe whose reader goes away loses its connection`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const fifo = await makeFifo();
        try {
          const proto = new MyWritePipeProto();
          const [transport] = await loop.connectWritePipe(() => proto, fifo.writeFd);
          fifo.closeWrite = () => {};
          fifo.closeRead();
          // The next write fails with EPIPE (or the hang-up is noticed first).
          for (let i = 0; i < 100 && proto.state !== 'CLOSED'; i++) {
            transport.write('x');
            await new Promise((r) => setTimeout(r, 5));
          }
          const err = await within(proto.lost.promise, 'connectionLost');
          t.is(proto.state, 'CLOSED');
          if (err !== null) t.is((err as Error & { code: string }).code, 'EPIPE');
          t.true(transport.isClosing());
        } finally {
          fifo.dispose();
        }
      }),
  );
}
