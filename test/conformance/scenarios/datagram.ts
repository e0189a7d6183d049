// UDP endpoints (test_events.py: test_create_datagram_endpoint*,
// MyDatagramProto; test_selector_events.py: sendto rules).
import dgram from 'node:dgram';
import { once } from 'node:events';
import type { DatagramProtocol, DatagramTransport } from 'asyncuv';
import { MyDatagramProto } from '../protocols.js';
import { type MakeLoop, type Test, testIf, until, withLoop, within } from '../harness.js';

/** Answers each datagram with 'resp:' + data, as CPython's TestMyDatagramProto. */
class RespondingProto extends MyDatagramProto {
  override datagramReceived(data: Buffer, addr: [string, number]): void {
    super.datagramReceived(data, addr);
    this.transport!.sendto(Buffer.concat([Buffer.from('resp:'), data]), addr);
  }
}

function portOf(transport: DatagramTransport): number {
  return (transport.getExtraInfo('sockname') as [string, number])[1];
}

export function datagram(test: Test, makeLoop: MakeLoop, name: string): void {
  testIf(
    test,
    makeLoop,
    'datagram',
    `${name}: datagram endpoints: MyDatagramProto INITIAL -> INITIALIZED -> CLOSED, request and response`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const [serverTransport, server] = await loop.createDatagramEndpoint(
          () => new RespondingProto(),
          { localAddr: ['127.0.0.1', 0] },
        );
        t.is(server.state, 'INITIALIZED');
        const port = portOf(serverTransport);
        t.true(port > 0);
        const [transport, client] = await loop.createDatagramEndpoint(() => new MyDatagramProto(), {
          remoteAddr: ['127.0.0.1', port],
        });
        t.is(client.state, 'INITIALIZED');
        t.deepEqual(transport.getExtraInfo('peername'), ['127.0.0.1', port]);
        // Connecting picked the local address the route to the peer uses.
        t.is((transport.getExtraInfo('sockname') as [string, number])[0], '127.0.0.1');
        transport.sendto('xxx');
        await until(() => server.nbytes > 0, 'server datagram');
        t.is(server.nbytes, 3);
        await until(() => client.nbytes > 0, 'client datagram');
        t.is(client.nbytes, 8);
        t.is(client.datagrams[0]![0].toString(), 'resp:xxx');
        t.deepEqual(client.datagrams[0]![1], ['127.0.0.1', port]);
        // The server saw the client's address.
        t.is(server.datagrams[0]![1][0], '127.0.0.1');
        transport.close();
        t.is(client.state, 'INITIALIZED', 'connectionLost is deferred');
        await within(client.done, 'client connectionLost');
        t.is(client.state, 'CLOSED');
        serverTransport.close();
        await within(server.done, 'server connectionLost');
        t.deepEqual([...client.violations, ...server.violations], []);
      }),
  );

  testIf(
    test,
    makeLoop,
    'datagram',
    `${name}: an unconnected endpoint sends to any address and needs one`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const peer = dgram.createSocket('udp4');
        peer.bind(0, '127.0.0.1');
        await once(peer, 'listening');
        try {
          const [transport, proto] = await loop.createDatagramEndpoint(
            () => new MyDatagramProto(),
            { localAddr: ['127.0.0.1', 0] },
          );
          const got = once(peer, 'message');
          transport.sendto(Buffer.from('to peer'), ['127.0.0.1', peer.address().port]);
          const [msg, rinfo] = (await within(got, 'datagram at the peer')) as [
            Buffer,
            dgram.RemoteInfo,
          ];
          t.is(msg.toString(), 'to peer');
          t.is(rinfo.port, portOf(transport));
          t.throws(() => transport.sendto('nowhere'), { code: 'ERR_INVALID_ARG_VALUE' });
          peer.send('back', portOf(transport), '127.0.0.1');
          await until(() => proto.datagrams.length === 1, 'reply');
          t.deepEqual(proto.datagrams[0]![1], ['127.0.0.1', peer.address().port]);
          transport.close();
          await within(proto.done, 'connectionLost');
        } finally {
          peer.close();
        }
      }),
  );

  testIf(test, makeLoop, 'datagram', `${name}: a connected endpoint refuses other addresses`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const [transport, proto] = await loop.createDatagramEndpoint(() => new MyDatagramProto(), {
        remoteAddr: ['127.0.0.1', 9],
      });
      t.throws(() => transport.sendto('x', ['127.0.0.1', 10]), { code: 'ERR_INVALID_ARG_VALUE' });
      t.notThrows(() => transport.sendto('x', ['127.0.0.1', 9]));
      transport.close();
      await within(proto.done, 'connectionLost');
    }),
  );

  testIf(
    test,
    makeLoop,
    'datagram',
    `${name}: a connected endpoint with nobody listening gets errorReceived(ECONNREFUSED)`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        // A port that was just free: the ICMP port-unreachable comes back as
        // ECONNREFUSED on a connected UDP socket (Linux).
        const probe = dgram.createSocket('udp4');
        probe.bind(0, '127.0.0.1');
        await once(probe, 'listening');
        const port = probe.address().port;
        probe.close();
        const [transport, proto] = await loop.createDatagramEndpoint(() => new MyDatagramProto(), {
          remoteAddr: ['127.0.0.1', port],
        });
        for (let i = 0; i < 50 && proto.errors.length === 0; i++) {
          transport.sendto('ping');
          await new Promise((r) => setTimeout(r, 10));
        }
        t.true(proto.errors.length > 0);
        t.is((proto.errors[0] as Error & { code: string }).code, 'ECONNREFUSED');
        t.false(transport.isClosing(), 'the endpoint stays open after an error');
        transport.close();
        await within(proto.done, 'connectionLost');
      }),
  );

  testIf(
    test,
    makeLoop,
    'datagram',
    `${name}: a datagram too large to send is reported to errorReceived; the endpoint stays usable`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const [server, sproto] = await loop.createDatagramEndpoint(() => new MyDatagramProto(), {
          localAddr: ['127.0.0.1', 0],
        });
        const [transport, proto] = await loop.createDatagramEndpoint(() => new MyDatagramProto(), {
          remoteAddr: ['127.0.0.1', portOf(server)],
        });
        // Over the 65,507-byte limit of an IPv4 UDP payload.
        transport.sendto(Buffer.alloc(70_000));
        await until(() => proto.errors.length > 0, 'errorReceived');
        t.is((proto.errors[0] as Error & { code: string }).code, 'EMSGSIZE');
        t.false(transport.isClosing());
        transport.sendto('small');
        await until(() => sproto.nbytes === 5, 'the next datagram');
        transport.close();
        server.close();
        await within(Promise.all([proto.done, sproto.done]), 'connectionLost');
      }),
  );

  testIf(
    test,
    makeLoop,
    'datagram',
    `${name}: abort and close call connectionLost once, deferred; sendto after close is dropped`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        let lost = 0;
        const proto: DatagramProtocol = { connectionLost: () => void lost++ };
        const [transport] = await loop.createDatagramEndpoint(() => proto, {
          localAddr: ['127.0.0.1', 0],
        });
        transport.abort();
        t.is(lost, 0);
        t.true(transport.isClosing());
        transport.close();
        t.notThrows(() => transport.sendto('late', ['127.0.0.1', 9]));
        await until(() => lost > 0, 'connectionLost');
        await new Promise((r) => setTimeout(r, 20));
        t.is(lost, 1);
      }),
  );

  testIf(
    test,
    makeLoop,
    'datagram',
    `${name}: reusePort lets two datagram endpoints bind one port`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const [a, pa] = await loop.createDatagramEndpoint(() => new MyDatagramProto(), {
          localAddr: ['127.0.0.1', 0],
          reusePort: true,
        });
        const [b, pb] = await loop.createDatagramEndpoint(() => new MyDatagramProto(), {
          localAddr: ['127.0.0.1', portOf(a)],
          reusePort: true,
        });
        t.is(portOf(b), portOf(a));
        a.close();
        b.close();
        await within(Promise.all([pa.done, pb.done]), 'connectionLost');
      }),
  );

  testIf(
    test,
    makeLoop,
    'datagram',
    `${name}: a datagram endpoint needs a local or a remote address, or a family`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        await t.throwsAsync(
          async () => loop.createDatagramEndpoint(() => new MyDatagramProto(), {}),
          { code: 'ERR_INVALID_ARG_VALUE' },
        );
      }),
  );

  testIf(
    test,
    makeLoop,
    'datagram',
    `${name}: allowBroadcast endpoints may send to the broadcast address`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const [transport, proto] = await loop.createDatagramEndpoint(() => new MyDatagramProto(), {
          localAddr: ['0.0.0.0', 0],
          allowBroadcast: true,
        });
        t.notThrows(() => transport.sendto('hello all', ['255.255.255.255', 9]));
        await new Promise((r) => setTimeout(r, 20));
        // Sending may be refused by the host's network setup (no broadcast
        // route in a container); what must not happen is EACCES, the error
        // for a socket without SO_BROADCAST.
        t.false(proto.errors.some((e) => (e as Error & { code?: string }).code === 'EACCES'));
        transport.close();
        await within(proto.done, 'connectionLost');
      }),
  );
}
