// Cases of CPython's test_base_events.py (BaseEventLoopTests,
// BaseEventLoopWithSelectorTests: the public behaviour) that had no
// counterpart in this suite: test_set_exc_handler_broken,
// test_call_later / test_time_and_call_at (a None delay or when),
// test_run_until_complete_baseexception, test_create_datagram_endpoint_connect_err,
// test_env_var_debug (ASYNCUV_DEBUG), test_create_server_ipv6,
// test_default_exc_handler_broken, test_call_coroutine (an async function
// as a callback), test_create_datagram_endpoint_addr_error,
// test_create_datagram_endpoint_no_matching_family, the family= of
// test_create_datagram_endpoint_socket_err / _cant_bind, and
// test_create_connection_ssl_server_hostname_errors,
// test_create_connection_local_addr_nomatch_family (localAddr by name).
import {
  type AbstractEventLoop,
  type ExceptionContext,
  Loop,
  NodeEventLoop,
  openConnection,
  startServer,
  UvError,
  UvEventLoop,
} from 'asyncuv';
import { MyDatagramProto } from '../protocols.js';
import { writeSync } from 'node:fs';
import { makeFifo } from '../fifo.js';
import { resolveDualStack, V4_FIRST, V6_FIRST } from '../dual-stack.js';
import { cases, future, type MakeLoop, type Test, until, within } from '../harness.js';

/**
 * Calls `body` with console.error's calls whose first argument starts
 * with `prefix` recorded instead of printed (others still print: cases
 * run concurrently).
 */
async function capturingErrors(
  prefix: string,
  body: (logged: unknown[][]) => Promise<void>,
): Promise<void> {
  const logged: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith(prefix)) logged.push(args);
    else original(...args);
  };
  try {
    await body(logged);
  } finally {
    console.error = original;
  }
}

export function baseEventsPort(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = cases(test, makeLoop, name);

  it('test_set_exc_handler_broken: a handler that throws: the default handler gets its error and the original context', async ({
    loop,
  }, t) => {
    const broken = new Error('spam');
    const boom = new Error('zero_error');
    loop.setExceptionHandler(() => {
      throw broken;
    });
    const seen: ExceptionContext[] = [];
    // An instance's own default handler, as CPython's test subclasses the loop.
    loop.defaultExceptionHandler = (context) => void seen.push(context);
    const ran = future();
    loop.callSoon(function zeroError() {
      throw boom;
    });
    loop.callSoon(() => ran.resolve());
    await within(ran.promise, 'the next callback');
    t.is(seen.length, 1);
    t.is(seen[0]!.message, 'Unhandled error in exception handler');
    t.is(seen[0]!.exception, broken);
    const original = seen[0]!['context'] as ExceptionContext;
    t.is(original.exception, boom);
    t.regex(original.message, /^Exception in callback zeroError/);
    loop.setExceptionHandler(null);
  });

  it('test_default_exc_handler_broken: a default handler that throws is logged; the callbacks behind it still run', async ({
    loop,
  }, t) => {
    await capturingErrors('Exception in default exception handler', async (logged) => {
      const contexts: ExceptionContext[] = [];
      loop.defaultExceptionHandler = (context) => {
        contexts.push(context);
        throw new Error('default broken');
      };
      // No custom handler: the default one is called directly.
      loop.setExceptionHandler(null);
      const ran: string[] = [];
      const after = future();
      loop.callSoon(() => {
        throw new Error('zero_error');
      });
      loop.callSoon(() => {
        ran.push('after');
        after.resolve();
      });
      await within(after.promise, 'the callback queued behind');
      t.deepEqual(ran, ['after']);
      t.is(contexts.length, 1);
      t.is(logged.length, 1);
      t.is(logged[0]![0], 'Exception in default exception handler');
      // With a custom handler that throws too: both named in the log.
      loop.setExceptionHandler(() => {
        throw new Error('ham');
      });
      const again = future();
      loop.callSoon(() => {
        throw new Error('zero_error');
      });
      loop.callSoon(() => again.resolve());
      await within(again.promise, 'the next callback');
      t.is(logged.length, 2);
      t.regex(
        logged[1]![0] as string,
        /^Exception in default exception handler while handling an unexpected error in custom exception handler/,
      );
      t.is(
        (contexts[1]!['context'] as ExceptionContext).message.startsWith('Exception in callback'),
        true,
      );
      loop.setExceptionHandler(null);
    });
  });

  it('test_call_coroutine: an async callback’s rejection reaches the exception handler with its handle (asyncio refuses coroutines)', async ({
    loop,
    exceptions,
  }, t) => {
    const boom = new Error('async boom');
    const soon = loop.callSoon(async function asyncCallback() {
      await Promise.resolve();
      throw boom;
    });
    const later = loop.callLater(0, async () => {
      throw boom;
    });
    const resolved = loop.callSoon(async () => 'fine');
    t.truthy(resolved);
    const reported = future();
    const until = (): void => {
      if (exceptions.length >= 2) reported.resolve();
      else loop.callSoon(until);
    };
    loop.callSoon(until);
    await within(reported.promise, 'both rejections reported');
    t.is(exceptions.length, 2, 'a fulfilled one is not reported');
    t.true(exceptions.every((c) => c.exception === boom));
    // In the order they rejected: the first awaited before it threw.
    t.deepEqual(
      exceptions.map((c) => c.handle),
      [later, soon],
    );
    t.is(exceptions[1]!.message, 'Exception in callback asyncCallback');
    exceptions.length = 0;
  });

  it('an async fd callback’s rejection is reported too; a promise a plain callback hands back is its maker’s', async ({
    loop,
    exceptions,
  }, t) => {
    const fifo = await makeFifo();
    try {
      const boom = new Error('async reader boom');
      loop.addReader(fifo.readFd, async () => {
        fifo.readNow();
        loop.removeReader(fifo.readFd);
        await Promise.resolve();
        throw boom;
      });
      writeSync(fifo.writeFd, 'x');
      // A plain arrow handing back a promise its maker handles: not reported.
      const handled = future<string>();
      const shared = Promise.reject(new Error('handled by its maker'));
      shared.catch((err: Error) => handled.resolve(err.message));
      loop.callSoon(() => shared);
      t.is(await within(handled.promise, 'the maker’s catch'), 'handled by its maker');
      await until(() => exceptions.length >= 1, 'the reader’s rejection reported');
      // A turn more for a report of the handed-back promise, were there one.
      await new Promise<void>((resolve) => loop.callLater(0.02, resolve));
      t.is(exceptions.length, 1, String(exceptions.map((c) => c.exception)));
      t.is(exceptions[0]!.exception, boom);
      t.is(exceptions[0]!.message, `Exception in callback for fd ${fifo.readFd}`);
      exceptions.length = 0;
    } finally {
      loop.removeReader(fifo.readFd);
      fifo.dispose();
    }
  });

  it('test_call_later, test_time_and_call_at: a delay or a when that is not a finite number is a usage error, nothing scheduled', async ({
    loop,
  }, t) => {
    const cb = (): void => t.fail('nothing was scheduled');
    for (const bad of [null, undefined, '1']) {
      t.throws(() => loop.callLater(bad as never, cb), { code: 'ERR_INVALID_ARG_TYPE' });
      t.throws(() => loop.callAt(bad as never, cb), { code: 'ERR_INVALID_ARG_TYPE' });
    }
    for (const bad of [NaN, Infinity, -Infinity]) {
      t.throws(() => loop.callLater(bad, cb), { code: 'ERR_OUT_OF_RANGE' });
      t.throws(() => loop.callAt(bad, cb), { code: 'ERR_OUT_OF_RANGE' });
    }
    t.deepEqual(loop.liveResources(), {});
  });

  it('test_run_until_complete_baseexception: a failed runUntilComplete leaves no stop behind for the next run', async ({
    loop,
  }, t) => {
    await t.throwsAsync(
      within(
        loop.runUntilComplete(async () => {
          throw new Error('interrupt');
        }),
        'runUntilComplete',
      ),
      { message: 'interrupt' },
    );
    // The next run goes on until a callback two iterations later stops it.
    let called = false;
    loop.callSoon(() =>
      loop.callSoon(() => {
        called = true;
        loop.stop();
      }),
    );
    await within(loop.runForever(), 'runForever');
    t.true(called);
  });

  it('test_env_var_debug: ASYNCUV_DEBUG (PYTHONASYNCIODEBUG) set and not empty turns debug mode on for a new loop', async ({
    loop,
  }, t) => {
    // A loop of the same kind as the one under test; made, read and
    // closed while the variable is set, in one synchronous stretch.
    const fresh = (): AbstractEventLoop =>
      loop instanceof NodeEventLoop ? new NodeEventLoop() : new UvEventLoop(new Loop());
    const saved = process.env['ASYNCUV_DEBUG'];
    const debugWith = (value: string | undefined): boolean => {
      if (value === undefined) delete process.env['ASYNCUV_DEBUG'];
      else process.env['ASYNCUV_DEBUG'] = value;
      const made = fresh();
      try {
        return made.getDebug();
      } finally {
        made.close();
        if (made instanceof UvEventLoop) made.uvloop.close();
      }
    };
    try {
      t.false(debugWith(undefined));
      t.false(debugWith(''));
      t.true(debugWith('1'));
    } finally {
      if (saved === undefined) delete process.env['ASYNCUV_DEBUG'];
      else process.env['ASYNCUV_DEBUG'] = saved;
    }
    t.is(loop.getDebug(), saved !== undefined && saved !== '', 'the loop under test is untouched');
  });

  it('test_create_datagram_endpoint_addr_error, test_create_datagram_endpoint_connect_err: a localAddr that is not a [host, port] pair, a remote port 0: usage errors', async ({
    loop,
  }, t) => {
    const P = (): MyDatagramProto => new MyDatagramProto();
    // asyncio's connect() to port 0 fails with OSError; here it is refused
    // before any socket (docs/loop.md: a remote port from 1).
    await t.throwsAsync(
      async () => loop.createDatagramEndpoint(P, { remoteAddr: ['127.0.0.1', 0] }),
      { code: 'ERR_OUT_OF_RANGE' },
    );
    for (const localAddr of ['localhost', ['localhost', 1, 2, 3], ['localhost'], [1, 2]]) {
      await t.throwsAsync(
        async () => loop.createDatagramEndpoint(P, { localAddr: localAddr as never }),
        { code: 'ERR_INVALID_ARG_TYPE' },
        JSON.stringify(localAddr),
      );
    }
  });

  it('test_create_datagram_endpoint_no_matching_family: a local and a remote address of no family in common: a usage error, no socket', async ({
    loop,
  }, t) => {
    const P = (): MyDatagramProto => new MyDatagramProto();
    await t.throwsAsync(
      async () =>
        loop.createDatagramEndpoint(P, {
          localAddr: ['::1', 0],
          remoteAddr: ['127.0.0.1', 9],
        }),
      { code: 'ERR_INVALID_ARG_VALUE' },
    );
    await t.throwsAsync(
      async () =>
        loop.createDatagramEndpoint(P, {
          localAddr: ['127.0.0.1', 0],
          remoteAddr: ['::1', 9],
        }),
      { code: 'ERR_INVALID_ARG_VALUE' },
    );
    t.deepEqual(loop.liveResources(), {});
    // A name that has an address of the other side's family is paired by
    // it, on either side and whichever of its addresses comes first.
    // Without the pairing each side's first address is taken: for each
    // loopback, one of the two names has the other family first, and the
    // socket fails.
    resolveDualStack(loop);
    for (const loopback of ['127.0.0.1', '::1']) {
      for (const name of [V6_FIRST, V4_FIRST]) {
        const pairs: Array<[string, string]> = [
          [name, loopback],
          [loopback, name],
        ];
        for (const [local, remote] of pairs) {
          const what = `${local} to ${remote}`;
          const [transport, proto] = await within(
            loop.createDatagramEndpoint(P, { localAddr: [local, 0], remoteAddr: [remote, 9] }),
            `an endpoint from ${what}`,
          );
          t.is((transport.getExtraInfo('sockname') as [string, number])[0], loopback, what);
          t.deepEqual(transport.getExtraInfo('peername'), [loopback, 9], what);
          transport.close();
          await within(proto.done, 'connectionLost');
        }
      }
    }
  });

  it('createDatagramEndpoint family (asyncio family=): checked, and only addresses of it are used', async ({
    loop,
  }, t) => {
    const P = (): MyDatagramProto => new MyDatagramProto();
    await t.throwsAsync(
      async () =>
        loop.createDatagramEndpoint(P, { localAddr: ['127.0.0.1', 0], family: 5 as never }),
      { code: 'ERR_INVALID_ARG_VALUE' },
    );
    // An address of the other family: getaddrinfo finds none of this one.
    const err = await t.throwsAsync<UvError>(async () =>
      loop.createDatagramEndpoint(P, { localAddr: ['127.0.0.1', 0], family: 6 }),
    );
    t.is(err?.code, 'EAI_ADDRFAMILY');
    t.deepEqual(loop.liveResources(), {});
    // A name of both families: only its address of `family` is used,
    // whichever comes first.
    resolveDualStack(loop);
    for (const [family, loopback] of [
      [4, '127.0.0.1'],
      [6, '::1'],
    ] as const) {
      for (const name of [V6_FIRST, V4_FIRST]) {
        const [transport, proto] = await within(
          loop.createDatagramEndpoint(P, { localAddr: [name, 0], family }),
          `a family ${family} endpoint on ${name}`,
        );
        const [host] = transport.getExtraInfo('sockname') as [string, number];
        t.is(host, loopback, `${name}, family ${family}`);
        transport.close();
        await within(proto.done, 'connectionLost');
      }
    }
  });

  it('test_create_server_ipv6: startServer on ::1 listens there and serves a stream client', async ({
    loop,
  }, t) => {
    const server = await within(
      startServer(
        async (reader, writer) => {
          writer.write(await reader.readline());
          writer.close();
        },
        '::1',
        0,
        { loop },
      ),
      'startServer',
    );
    const [socket] = server.sockets();
    t.is(server.sockets().length, 1);
    t.is(socket!.address, '::1');
    t.is(socket!.family, 'IPv6');
    const { reader, writer } = await within(
      openConnection('::1', socket!.port, { loop }),
      'openConnection',
    );
    writer.write('six\n');
    t.is((await within(reader.read(), 'the echo')).toString(), 'six\n');
    writer.close();
    await within(writer.waitClosed(), 'the client closed');
    server.close();
    await within(server.waitClosed(), 'waitClosed');
  });

  it('test_create_connection_ssl_server_hostname_errors: ssl with no host: a usage error; with an empty host: EAI_NONAME before any connect', async ({
    loop,
  }, t) => {
    await t.throwsAsync(async () => loop.createConnection(() => ({}), null, 80, { ssl: true }), {
      code: 'ERR_INVALID_ARG_TYPE',
    });
    // asyncio raises ValueError (no server_hostname to take from ''); here
    // the empty host is refused first, as without ssl (address-edges.ts):
    // getaddrinfo's EAI_NONAME.
    const err = await t.throwsAsync<UvError>(async () =>
      loop.createConnection(() => ({}), '', 80, { ssl: true }),
    );
    t.is(err?.code, 'EAI_NONAME');
    t.deepEqual(loop.liveResources(), {});
  });

  it('test_create_connection_local_addr_nomatch_family, by name: a localAddr with no address of the remote’s family is EAFNOSUPPORT from bind before any socket, alike on both loops; family= filters it', async ({
    loop,
  }, t) => {
    const server = await loop.createServer(() => ({}), '127.0.0.1', 0);
    try {
      const { port } = server.sockets()[0] as { port: number };
      const before = loop.liveResources();
      // asyncio skips each remote with no local address of its family and
      // fails (OSError) once none is left; here that is known before any
      // socket, and both loops say it alike.
      const err = await t.throwsAsync<UvError>(async () =>
        loop.createConnection(() => ({}), '127.0.0.1', port, { localAddr: ['::1', 0] }),
      );
      t.true(err instanceof UvError, String(err));
      t.is(err?.code, 'EAFNOSUPPORT');
      t.is(err?.syscall, 'bind');
      t.regex(err!.message, /::1$/);
      t.deepEqual(loop.liveResources(), before, 'no socket was made');
      // family 6 for the local name too: nothing of that family is left for
      // it. The remote is of family 6, so that only the local filter can
      // refuse (a remote 127.0.0.1 fails family 6 by itself; unfiltered, the
      // local address would be EAFNOSUPPORT's).
      await t.throwsAsync(
        async () =>
          loop.createConnection(() => ({}), '::1', port, {
            localAddr: ['127.0.0.1', 0],
            family: 6,
          }),
        { code: 'EAI_ADDRFAMILY' },
      );
      const [transport] = await loop.createConnection(() => ({}), '127.0.0.1', port, {
        localAddr: ['127.0.0.1', 0],
        family: 4,
      });
      t.is((transport.getExtraInfo('sockname') as [string, number])[0], '127.0.0.1');
      transport.close();
    } finally {
      server.close();
      await server.waitClosed();
    }
  });
}
