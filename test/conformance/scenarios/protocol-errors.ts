// What a throwing protocol method leads to, and the context the exception
// handler gets (test_selector_events.py: test_read_ready_eof_keep_open /
// eof_received raising into _fatal_error, test_transports.py and
// selector_events' _maybe_pause_protocol / _maybe_resume_protocol
// ('protocol.pause_writing() failed', the transport going on);
// base_events' _call_connection_lost run as a callback).
import type { ExceptionContext, Protocol, Transport } from 'asyncuv';
import { connectedTo, readToEnd } from '../peers.js';
import { type MakeLoop, type Test, future, until, withLoop, within } from '../harness.js';

class Failing implements Protocol {
  transport: Transport | undefined;
  calls: string[] = [];
  readonly lost = future<Error | null>();
  constructor(
    readonly fails: 'eofReceived' | 'connectionLost' | 'pauseWriting' | 'resumeWriting',
  ) {}

  #maybeThrow(method: string): void {
    this.calls.push(method);
    if (method === this.fails) throw new Error(`${method} failed on purpose`);
  }
  connectionMade(t: Transport): void {
    this.transport = t;
  }
  eofReceived(): void {
    this.#maybeThrow('eofReceived');
  }
  pauseWriting(): void {
    this.#maybeThrow('pauseWriting');
  }
  resumeWriting(): void {
    this.#maybeThrow('resumeWriting');
  }
  connectionLost(err: Error | null): void {
    this.lost.resolve(err);
    this.#maybeThrow('connectionLost');
  }
}

function summary(context: ExceptionContext | undefined): string {
  return `${context?.message}: ${String(context?.exception)}`;
}

export function protocolErrors(test: Test, makeLoop: MakeLoop, name: string): void {
  test(`${name}: eofReceived throwing is a fatal error: the handler gets transport and protocol; connectionLost(that error)`, (t) =>
    withLoop(
      t,
      makeLoop,
      async ({ loop, exceptions }) => {
        const { server, transport, proto, peer } = await connectedTo(
          loop,
          () => new Failing('eofReceived'),
        );
        try {
          peer.end();
          const err = await within(proto.lost.promise, 'connectionLost');
          t.is(err?.message, 'eofReceived failed on purpose');
          t.is(exceptions.length, 1, exceptions.map(summary).join('\n'));
          const context = exceptions[0]!;
          t.is(context.message, 'Fatal error: protocol.eofReceived() call failed.');
          t.is(context.exception, err);
          t.is(context.transport, transport);
          t.is(context.protocol, proto);
          t.true(transport.isClosing());
        } finally {
          await server.close();
        }
      },
      { expectExceptions: true },
    ));

  test(`${name}: connectionLost throwing reaches the handler once, after the transport is gone`, (t) =>
    withLoop(
      t,
      makeLoop,
      async ({ loop, exceptions }) => {
        const { server, transport, proto } = await connectedTo(
          loop,
          () => new Failing('connectionLost'),
        );
        try {
          transport.close();
          t.is(await within(proto.lost.promise, 'connectionLost'), null);
          await until(() => exceptions.length > 0, 'the exception handler');
          t.is(exceptions.length, 1, exceptions.map(summary).join('\n'));
          t.is((exceptions[0]!.exception as Error).message, 'connectionLost failed on purpose');
          t.deepEqual(proto.calls, ['connectionLost']);
        } finally {
          await server.close();
        }
      },
      { expectExceptions: true },
    ));

  for (const method of ['pauseWriting', 'resumeWriting'] as const) {
    test(`${name}: ${method} throwing is reported as 'protocol.${method}() failed'; the connection goes on`, (t) =>
      withLoop(
        t,
        makeLoop,
        async ({ loop, exceptions }) => {
          const { server, transport, proto, peer } = await connectedTo(
            loop,
            () => new Failing(method),
            (s) => s.pause(),
          );
          try {
            transport.setWriteBufferLimits({ high: 1024, low: 0 });
            const chunk = Buffer.alloc(1024 * 1024, 'p');
            let written = 0;
            while (!proto.calls.includes('pauseWriting') && written < 64 * 1024 * 1024) {
              transport.write(chunk);
              written += chunk.length;
            }
            const all = readToEnd(peer);
            peer.resume();
            await until(() => proto.calls.includes('resumeWriting'), 'resumeWriting');
            t.is(exceptions.length, 1, exceptions.map(summary).join('\n'));
            const context = exceptions[0]!;
            t.is(context.message, `protocol.${method}() failed`);
            t.is((context.exception as Error).message, `${method} failed on purpose`);
            t.is(context.transport, transport);
            t.is(context.protocol, proto);
            t.false(transport.isClosing(), 'the transport is not closed by it');
            transport.write('end');
            transport.close();
            t.is((await within(all, 'every byte')).length, written + 3);
            t.is(await within(proto.lost.promise, 'connectionLost'), null);
          } finally {
            await server.close();
          }
        },
        { expectExceptions: true },
      ));
  }
}
