// Addresses a socket cannot use, the same answer on every loop
// (test_selector_events.py: test_sendto_error_received (an OSError from
// sendto goes to error_received, the endpoint stays open),
// test_sendto_exception (anything else is not an OSError); test_events.py:
// test_create_datagram_endpoint over a dual-stack socket; sock.bind's
// "AF_UNIX path too long"; base_events' getaddrinfo and getnameinfo).
import { once } from 'node:events';
import dgram from 'node:dgram';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UvError, UsageError } from 'asyncuv';
import { MyDatagramProto } from '../protocols.js';
import { hasIPv6 } from '../peers.js';
import {
  type CaseBody,
  featureCases,
  type MakeLoop,
  type Test,
  until,
  withLoop,
  within,
} from '../harness.js';

export function addressEdges(test: Test, makeLoop: MakeLoop, name: string): void {
  const itIf = (feature: string, title: string, body: CaseBody): void =>
    featureCases(test, makeLoop, feature, name)(title, body);

  itIf(
    'datagram',
    'sendto an address the socket cannot use: errorReceived gets the UvError at once; the endpoint goes on',
    async ({ loop }, t) => {
      const proto = new MyDatagramProto();
      const [transport] = await loop.createDatagramEndpoint(() => proto, {
        localAddr: ['127.0.0.1', 0],
      });
      const cases: Array<[[string, number], string]> = [
        [['127.0.0.1', 0], 'EINVAL'], // port 0
        [['localhost', 9], 'EINVAL'], // a name: sendto takes addresses
        [['', 9], 'EINVAL'],
        [['::1', 9], 'EAFNOSUPPORT'], // IPv6 from an IPv4 socket
      ];
      for (const [addr, code] of cases) {
        const before = proto.errors.length;
        t.notThrows(() => transport.sendto('x', addr));
        t.is(proto.errors.length, before + 1, `${JSON.stringify(addr)}: reported during sendto`);
        const err = proto.errors[before]!;
        t.true(err instanceof UvError, String(err));
        t.is((err as UvError).code, code, JSON.stringify(addr));
        t.is((err as UvError).syscall, 'send');
      }
      // Not an address at all: the caller's error, thrown (asyncio's TypeError).
      for (const bad of [
        ['127.0.0.1', 70000],
        ['127.0.0.1', -1],
        ['127.0.0.1', 1.5],
        [9, '127.0.0.1'],
      ]) {
        t.throws(() => transport.sendto('x', bad as never), { instanceOf: UsageError });
      }
      t.false(transport.isClosing());
      // Still usable: a datagram to itself arrives.
      const [, port] = transport.getExtraInfo('sockname') as [string, number];
      transport.sendto('to myself', ['127.0.0.1', port]);
      await until(() => proto.datagrams.length === 1, 'the datagram');
      t.is(proto.datagrams[0]![0].toString(), 'to myself');
      transport.close();
      await within(proto.done, 'connectionLost');
    },
  );

  if (hasIPv6()) {
    itIf(
      'datagram',
      "a dual-stack endpoint ('::') sends to an IPv4 peer and hears its answer",
      async ({ loop }, t) => {
        const peer = dgram.createSocket('udp4');
        peer.on('message', (msg, from) =>
          peer.send(Buffer.from(`echo ${msg}`), from.port, from.address),
        );
        peer.bind(0, '127.0.0.1');
        await once(peer, 'listening');
        try {
          const proto = new MyDatagramProto();
          const [transport] = await loop.createDatagramEndpoint(() => proto, {
            localAddr: ['::', 0],
          });
          // UDP may drop a datagram on a loaded machine: ask again until answered.
          for (let i = 0; i < 100 && proto.datagrams.length === 0; i++) {
            transport.sendto('ping', ['127.0.0.1', peer.address().port]);
            await sleep(50);
          }
          await until(() => proto.datagrams.length > 0, 'the answer', 5000);
          t.deepEqual(proto.errors, []);
          const [data, from] = proto.datagrams[0]!;
          t.is(data.toString(), 'echo ping');
          t.is(from[1], peer.address().port);
          t.true(['127.0.0.1', '::ffff:127.0.0.1'].includes(from[0]), from[0]);
          transport.close();
          await within(proto.done, 'connectionLost');
        } finally {
          peer.close();
        }
      },
    );
  }

  itIf(
    'datagram',
    'a remoteAddr with port 0 is refused before anything is opened',
    async ({ loop }, t) => {
      await t.throwsAsync(
        loop.createDatagramEndpoint(() => new MyDatagramProto(), { remoteAddr: ['127.0.0.1', 0] }),
        { code: 'ERR_OUT_OF_RANGE' },
      );
      await t.throwsAsync(
        loop.createDatagramEndpoint(() => new MyDatagramProto(), {
          localAddr: ['127.0.0.1', 0],
          remoteAddr: ['127.0.0.1', 0],
        }),
        { code: 'ERR_OUT_OF_RANGE' },
      );
      t.deepEqual(loop.liveResources(), {});
    },
  );

  itIf(
    'unix',
    'a socket path too long for sockaddr_un fails with EINVAL and makes no file',
    async ({ loop }, t) => {
      const dir = mkdtempSync(join(tmpdir(), 'asyncuv-long-'));
      try {
        const path = join(dir, 'x'.repeat(200));
        const server = loop.createUnixServer(() => ({}), path);
        await t.throwsAsync(server, { instanceOf: UvError, code: 'EINVAL', message: /^bind/ });
        const client = loop.createUnixConnection(() => ({}), path);
        await t.throwsAsync(client, { instanceOf: UvError, code: 'EINVAL', message: /^connect/ });
        await sleep(10);
        t.deepEqual(readdirSync(dir), [], 'no socket file under a truncated name');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test(`${name}: an empty host is EAI_NONAME from getaddrinfo (asyncio’s socket.getaddrinfo); getnameinfo takes numeric addresses only`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      await t.throwsAsync(loop.getaddrinfo('', 80), {
        instanceOf: UvError,
        code: 'EAI_NONAME',
        message: /^getaddrinfo/,
      });
      await t.throwsAsync(
        loop.createConnection(() => ({}), '', 80),
        {
          instanceOf: UvError,
          code: 'EAI_NONAME',
        },
      );
      await t.throwsAsync(loop.getnameinfo('not-an-ip', 80), {
        instanceOf: UsageError,
        code: 'ERR_INVALID_ARG_VALUE',
      });
      const [host, service] = await within(loop.getnameinfo('127.0.0.1', 80), 'getnameinfo');
      t.is(typeof host, 'string');
      t.is(typeof service, 'string');
    }));
}
