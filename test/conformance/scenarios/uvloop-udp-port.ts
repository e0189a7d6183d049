// Cases of uvloop's tests/test_udp.py that the other scenario files did
// not cover, each titled with the Python test it ports, on UvEventLoop and
// NodeEventLoop (uvloop runs them on uvloop and on asyncio's loop).
//
// Already covered elsewhere: test_create_datagram_endpoint_sock and
// _wrong_sock (datagram-sock.test.ts), test_send_after_close
// (datagram.ts), test_udp_sendto_dns (a name or an address of the other
// family to sendto goes to errorReceived, as asyncio's sendto would fail:
// address-edges.ts; uvloop raises a ValueError of its own there).
// Not portable: test_create_datagram_endpoint_sock_unix_domain and
// test_socketpair (datagram Unix sockets: a UDP handle is IP only),
// test_create_datagram_endpoint_reuse_address_error / _warning (asyncio
// 3.11 removed reuse_address; uvloop skips them there too),
// test_udp_sendto_broadcast ('<broadcast>' is a name of Python's socket
// module; allowBroadcast endpoints send to 255.255.255.255: datagram.ts).
import { once } from 'node:events';
import dgram from 'node:dgram';
import type { Buffer } from 'node:buffer';
import type { DatagramTransport } from 'asyncuv';
import { MyDatagramProto } from '../protocols.js';
import { hasIPv6 } from '../peers.js';
import { featureCases, type MakeLoop, type Test, until, within } from '../harness.js';

class RespondingProto extends MyDatagramProto {
  override datagramReceived(data: Buffer, addr: [string, number]): void {
    super.datagramReceived(data, addr);
    this.transport!.sendto(`resp:${data.toString()}`, addr);
  }
}

function sockname(transport: DatagramTransport): [string, number] {
  return transport.getExtraInfo('sockname') as [string, number];
}

export function uvloopUdpPort(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = featureCases(test, makeLoop, 'datagram', `${name}: uvloop udp`);

  /** uvloop's _test_create_datagram_endpoint_addrs. */
  const endpointAddrs = (family: 4 | 6, localHost: string): Parameters<typeof it>[1] => {
    return async ({ loop }, t) => {
      const [sTransport, server] = await loop.createDatagramEndpoint(() => new RespondingProto(), {
        localAddr: [localHost, 0],
        family,
      });
      t.is(server.state, 'INITIALIZED');
      t.is(server.transport, sTransport);
      const remote = sockname(sTransport);
      const [host, port] = remote;
      const [transport, client] = await loop.createDatagramEndpoint(() => new MyDatagramProto(), {
        family,
        remoteAddr: [host, port],
        reusePort: true,
      });
      t.is(client.state, 'INITIALIZED');
      t.is(client.transport, transport);
      transport.sendto('xxx');
      await until(() => server.nbytes > 0, 'the server’s datagram');
      t.is(server.nbytes, 3);
      await until(() => client.nbytes > 0, 'the answer');
      t.is(client.nbytes, 8);
      // uvloop issue 319: the remote address itself may be given.
      transport.sendto('xxx', remote);
      await until(() => server.nbytes > 3, 'the second datagram');
      t.is(server.nbytes, 6);
      await until(() => client.nbytes > 8, 'the second answer');
      t.is(client.nbytes, 16);
      // Another port: refused.
      t.throws(() => transport.sendto('xxx', [host, port + 1]), {
        code: 'ERR_INVALID_ARG_VALUE',
      });
      // A name for the remote address is not that address (asyncio compares them as given).
      if (localHost !== host) {
        t.throws(() => transport.sendto('xxx', [localHost, port]), {
          code: 'ERR_INVALID_ARG_VALUE',
        });
      }
      t.truthy(transport.getExtraInfo('sockname'));
      transport.close();
      await within(client.done, 'client connectionLost');
      t.is(client.state, 'CLOSED');
      sTransport.close();
      await within(server.done, 'server connectionLost');
      t.deepEqual([...client.violations, ...server.violations], []);
    };
  };

  it('test_create_datagram_endpoint_addrs_ipv4', endpointAddrs(4, '127.0.0.1'));
  it('test_create_datagram_endpoint_addrs_ipv4_nameaddr', endpointAddrs(4, 'localhost'));
  if (hasIPv6()) it('test_create_datagram_endpoint_addrs_ipv6', endpointAddrs(6, '::1'));

  it('test_create_datagram_endpoint_ipv6_family: family alone makes an endpoint that sends anywhere', async ({
    loop,
  }, t) => {
    const families: Array<4 | 6> = hasIPv6() ? [4, 6] : [4];
    for (const family of families) {
      const peer = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
      peer.bind(0, family === 6 ? '::1' : '127.0.0.1');
      await once(peer, 'listening');
      try {
        const [transport, proto] = await loop.createDatagramEndpoint(() => new MyDatagramProto(), {
          family,
        });
        t.is(sockname(transport)[0], family === 6 ? '::' : '0.0.0.0');
        t.is(transport.getExtraInfo('peername'), undefined);
        const got = once(peer, 'message');
        transport.sendto('hi', [family === 6 ? '::1' : '127.0.0.1', peer.address().port]);
        const [msg, rinfo] = (await within(got, 'the datagram')) as [Buffer, dgram.RemoteInfo];
        t.is(msg.toString(), 'hi');
        t.is(rinfo.port, sockname(transport)[1]);
        transport.close();
        await within(proto.done, 'connectionLost');
      } finally {
        peer.close();
      }
    }
    await t.throwsAsync(async () => loop.createDatagramEndpoint(() => new MyDatagramProto(), {}), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  });

  it('test_create_datagram_1: a server on a known port, a client with localAddr and remoteAddr', async ({
    loop,
  }, t) => {
    // A port free now (uvloop uses 8888).
    const probe = dgram.createSocket('udp4');
    probe.bind(0, '127.0.0.1');
    await once(probe, 'listening');
    const { port } = probe.address();
    probe.close();
    const [serverTransport, server] = await loop.createDatagramEndpoint(
      () => new RespondingProto(),
      { localAddr: ['127.0.0.1', port] },
    );
    const [clientTransport, client] = await loop.createDatagramEndpoint(
      () => new MyDatagramProto(),
      { remoteAddr: ['127.0.0.1', port], localAddr: ['127.0.0.1', 0] },
    );
    t.deepEqual(clientTransport.getExtraInfo('peername'), ['127.0.0.1', port]);
    t.not(sockname(clientTransport)[1], 0);
    clientTransport.sendto('ping');
    await until(() => client.nbytes > 0, 'the answer');
    t.is(client.datagrams[0]![0].toString(), 'resp:ping');
    t.deepEqual(server.datagrams[0]![1], sockname(clientTransport));
    clientTransport.close();
    serverTransport.close();
    await within(Promise.all([client.done, server.done]), 'connectionLost');
  });
}
