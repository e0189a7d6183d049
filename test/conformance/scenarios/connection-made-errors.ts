// An exception from connectionMade is fatal to what it was made for, on
// every kind of transport and every loop (loop/transport-base.ts): it
// reaches the exception handler, the transport closes, and the call that
// made it rejects with it.
import type { ExecutionContext } from 'ava';
import type { AbstractEventLoop, DatagramProtocol, Protocol, Server } from 'asyncuv';
import {
  type LoopContext,
  type MakeLoop,
  type Test,
  testIf,
  withLoop,
  within,
} from '../harness.js';

/** A protocol whose connectionMade throws `boom`; `lost` settles with connectionLost's error. */
function throwingProtocol(boom: Error): {
  protocol: Protocol & DatagramProtocol;
  lost: Promise<Error | null>;
} {
  let lost!: (err: Error | null) => void;
  const protocol = {
    connectionMade: () => {
      throw boom;
    },
    connectionLost: (err: Error | null) => lost(err),
  };
  return { protocol, lost: new Promise((resolve) => (lost = resolve)) };
}

function assertReported(t: ExecutionContext, { exceptions }: LoopContext, boom: Error): void {
  t.is(exceptions.length, 1);
  t.is(exceptions[0]!.exception, boom);
}

async function echoServer(loop: AbstractEventLoop): Promise<[Server, number]> {
  const server = await loop.createServer(() => ({}), '127.0.0.1', 0);
  return [server, server.sockets()[0]!.port];
}

export function connectionMadeErrors(test: Test, makeLoop: MakeLoop, name: string): void {
  const connection = 'connectionMade throwing fails createConnection with it and closes it';
  test(`${name}: ${connection}`, (t) =>
    withLoop(
      t,
      makeLoop,
      async (ctx) => {
        const [server, port] = await echoServer(ctx.loop);
        const boom = new Error('connectionMade failed');
        const { protocol, lost } = throwingProtocol(boom);
        const made = ctx.loop.createConnection(() => protocol, '127.0.0.1', port);
        t.is(await t.throwsAsync(within(made, 'createConnection settles')), boom);
        t.is(await within(lost, 'connectionLost'), boom);
        assertReported(t, ctx, boom);
        server.close();
        await within(server.waitClosed(), 'waitClosed');
      },
      { expectExceptions: true },
    ));

  const datagram = 'connectionMade throwing fails createDatagramEndpoint with it and closes it';
  testIf(test, makeLoop, 'datagram', `${name}: ${datagram}`, (t) =>
    withLoop(
      t,
      makeLoop,
      async (ctx) => {
        const boom = new Error('connectionMade failed');
        const { protocol, lost } = throwingProtocol(boom);
        const localAddr: [string, number] = ['127.0.0.1', 0];
        const made = ctx.loop.createDatagramEndpoint(() => protocol, { localAddr });
        t.is(await t.throwsAsync(within(made, 'createDatagramEndpoint settles')), boom);
        t.is(await within(lost, 'connectionLost'), boom);
        assertReported(t, ctx, boom);
      },
      { expectExceptions: true },
    ),
  );

  const subprocess = 'connectionMade throwing fails subprocessExec with it and kills the child';
  testIf(test, makeLoop, 'subprocess', `${name}: ${subprocess}`, (t) =>
    withLoop(
      t,
      makeLoop,
      async (ctx) => {
        const boom = new Error('connectionMade failed');
        let exited!: () => void;
        const done = new Promise<void>((resolve) => (exited = resolve));
        const protocol = {
          connectionMade: (): void => {
            throw boom;
          },
          connectionLost: (): void => exited(),
        };
        const made = ctx.loop.subprocessExec(() => protocol, 'sleep', ['30']);
        t.is(await t.throwsAsync(within(made, 'subprocessExec settles')), boom);
        await within(done, 'connectionLost once the killed child is reaped');
        assertReported(t, ctx, boom);
      },
      { expectExceptions: true },
    ),
  );
}
