// Argument errors of the connection-making methods (test_base_events.py:
// test_create_connection_no_host_port_sock,
// test_create_connection_server_hostname_error / _default,
// test_create_connection_wrong_local_addr-like local_addr checks,
// test_events.py: test_create_connection_local_addr_nomatch_family;
// test_create_datagram_endpoint_wrong_sock / _addr_error).
import { UvError } from 'asyncuv';
import { MyProto } from '../protocols.js';
import { netServer } from '../peers.js';
import { type MakeLoop, type Test, testIf, withLoop } from '../harness.js';

/** asyncio's TypeError or ValueError for a malformed argument. */
function isArgError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === 'ERR_INVALID_ARG_TYPE' || code === 'ERR_INVALID_ARG_VALUE';
}

export function connectionArgs(test: Test, makeLoop: MakeLoop, name: string): void {
  test(`${name}: createConnection without a host or a port is a usage error`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      await t.throwsAsync(
        async () => loop.createConnection(() => new MyProto(), undefined as never, 80),
        { code: 'ERR_INVALID_ARG_TYPE' },
      );
      await t.throwsAsync(
        async () => loop.createConnection(() => new MyProto(), '127.0.0.1', undefined as never),
        { code: 'ERR_INVALID_ARG_TYPE' },
      );
    }));

  test(`${name}: a port as a decimal string (URL.port) connects and listens; other strings are usage errors`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await loop.createServer(() => new MyProto(null), '127.0.0.1', '0');
      try {
        const { port } = server.sockets()[0] as { port: number };
        t.true(port > 0, 'port "0": any free port');
        const [transport] = await loop.createConnection(
          () => new MyProto(null),
          '127.0.0.1',
          String(port),
        );
        t.deepEqual(transport.getExtraInfo('peername'), ['127.0.0.1', port]);
        transport.close();
        const refusals: Array<[string, string]> = [
          ['http', 'ERR_INVALID_ARG_VALUE'],
          [' 80', 'ERR_INVALID_ARG_VALUE'],
          ['-1', 'ERR_INVALID_ARG_VALUE'],
          ['8.5', 'ERR_INVALID_ARG_VALUE'],
          ['', 'ERR_INVALID_ARG_VALUE'],
          ['65536', 'ERR_OUT_OF_RANGE'],
        ];
        for (const [bad, code] of refusals) {
          const connect = async (): Promise<unknown> =>
            loop.createConnection(() => new MyProto(null), '127.0.0.1', bad);
          await t.throwsAsync(
            connect,
            { code, name: 'UsageError' },
            `createConnection port '${bad}'`,
          );
          const listen = async (): Promise<unknown> =>
            loop.createServer(() => new MyProto(null), '127.0.0.1', bad);
          await t.throwsAsync(listen, { code, name: 'UsageError' }, `createServer port '${bad}'`);
        }
      } finally {
        server.close();
        await server.waitClosed();
      }
    }));

  test(`${name}: serverHostname without ssl is a usage error, before any connect`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      await t.throwsAsync(
        async () =>
          loop.createConnection(() => new MyProto(), '127.0.0.1', 80, {
            serverHostname: 'example.com',
          }),
        { code: 'ERR_INVALID_ARG_VALUE', message: /serverHostname is only meaningful with ssl/ },
      );
    }));

  test(`${name}: a localAddr that is not a [host, port] pair is a usage error`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await netServer();
      try {
        for (const localAddr of ['127.0.0.1', ['127.0.0.1'], [0, '127.0.0.1'], 42]) {
          const err = await t.throwsAsync(async () =>
            loop.createConnection(() => new MyProto(null), '127.0.0.1', server.port, {
              localAddr: localAddr as never,
            }),
          );
          t.true(isArgError(err), `${JSON.stringify(localAddr)}: ${String(err)}`);
        }
      } finally {
        await server.close();
      }
    }));

  test(`${name}: a localAddr of another family than the host rejects with a UvError; nothing is left open`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await netServer();
      try {
        const err = await t.throwsAsync(
          loop.createConnection(() => new MyProto(null), '127.0.0.1', server.port, {
            localAddr: ['::1', 0],
          }),
        );
        t.true(err instanceof UvError, String(err));
      } finally {
        await server.close();
      }
    }));

  testIf(
    test,
    makeLoop,
    'datagram',
    `${name}: a datagram localAddr or remoteAddr that is not a [host, port] pair is a usage error`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const factory = () => ({ datagramReceived: () => {} });
        for (const addr of ['127.0.0.1', ['127.0.0.1'], [0, '127.0.0.1']]) {
          const local = await t.throwsAsync(async () =>
            loop.createDatagramEndpoint(factory, { localAddr: addr as never }),
          );
          t.true(isArgError(local), `localAddr ${JSON.stringify(addr)}: ${String(local)}`);
          const remote = await t.throwsAsync(async () =>
            loop.createDatagramEndpoint(factory, { remoteAddr: addr as never }),
          );
          t.true(isArgError(remote), `remoteAddr ${JSON.stringify(addr)}: ${String(remote)}`);
        }
      }),
  );
}
