import test from 'ava';
import dgram from 'node:dgram';
import {
  NodeEventLoop,
  type Address,
  type DatagramProtocol,
  type DatagramTransport,
} from 'asyncuv';
import { assertNoLeaks, resourceCounts } from './resources.js';

const serial = test.serial;

/** Records datagrams and errors; echoes when asked to. */
class Recorder implements DatagramProtocol {
  transport: DatagramTransport | undefined;
  received: Array<[string, Address]> = [];
  errors: Error[] = [];
  calls: string[] = [];
  echo = false;
  lost: Promise<Error | null>;
  #lost!: (e: Error | null) => void;
  #waiters: Array<{ n: number; resolve: () => void }> = [];

  constructor() {
    this.lost = new Promise((r) => (this.#lost = r));
  }

  connectionMade(t: DatagramTransport): void {
    this.transport = t;
    this.calls.push('made');
  }

  datagramReceived(data: Buffer, addr: Address): void {
    this.received.push([data.toString(), addr]);
    if (this.echo) this.transport!.sendto(data, addr);
    this.#wake();
  }

  errorReceived(err: Error): void {
    this.errors.push(err);
    this.#wake();
  }

  connectionLost(err: Error | null): void {
    this.calls.push('lost');
    this.#lost(err);
  }

  until(n: number): Promise<void> {
    if (this.received.length + this.errors.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }

  #wake(): void {
    const have = this.received.length + this.errors.length;
    this.#waiters = this.#waiters.filter((w) => (have >= w.n ? (w.resolve(), false) : true));
  }
}

for (const host of ['127.0.0.1', '::1']) {
  serial(`datagram echo over ${host}: localAddr, remoteAddr, addresses as tuples`, async (t) => {
    const base = resourceCounts();
    const loop = new NodeEventLoop();
    const [serverTransport, server] = await loop.createDatagramEndpoint(
      () => Object.assign(new Recorder(), { echo: true }),
      { localAddr: [host, 0] },
    );
    const serverAddr = serverTransport.getExtraInfo('sockname')!;
    t.is(serverAddr[0], host);
    t.is(serverTransport.getExtraInfo('peername'), undefined);
    const [clientTransport, client] = await loop.createDatagramEndpoint(() => new Recorder(), {
      remoteAddr: serverAddr,
    });
    t.deepEqual(clientTransport.getExtraInfo('peername'), serverAddr);
    const clientAddr = clientTransport.getExtraInfo('sockname')!;
    clientTransport.sendto('ping 1');
    clientTransport.sendto(Buffer.from('ping 2'), serverAddr);
    t.throws(() => clientTransport.sendto('x', [host, 1]), { code: 'ERR_INVALID_ARG_VALUE' });
    t.throws(
      () => serverTransport.sendto('x'),
      { code: 'ERR_INVALID_ARG_VALUE' },
      'an unconnected endpoint needs an address',
    );
    await client.until(2);
    t.deepEqual(client.received, [
      ['ping 1', serverAddr],
      ['ping 2', serverAddr],
    ]);
    t.deepEqual(
      server.received.map((r) => r[1]),
      [clientAddr, clientAddr],
    );
    clientTransport.close();
    serverTransport.close();
    t.is(await client.lost, null);
    t.is(await server.lost, null);
    t.deepEqual(client.calls, ['made', 'lost']);
    loop.close();
    await assertNoLeaks(t, base);
  });
}

serial(
  'a connected endpoint with no one listening gets errorReceived(ECONNREFUSED) and stays open',
  async (t) => {
    const base = resourceCounts();
    const loop = new NodeEventLoop();
    // A port that was just free.
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r));
    const port = probe.address().port;
    await new Promise<void>((r) => probe.close(r));
    const [transport, protocol] = await loop.createDatagramEndpoint(() => new Recorder(), {
      remoteAddr: ['127.0.0.1', port],
    });
    transport.sendto('anyone?');
    // The ICMP error arrives on the next send or receive.
    const deadline = Date.now() + 2000;
    while (protocol.errors.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      if (protocol.errors.length === 0) transport.sendto('anyone?');
    }
    t.is((protocol.errors[0] as { code?: string } | undefined)?.code, 'ECONNREFUSED');
    t.false(transport.isClosing());
    transport.abort();
    t.is(await protocol.lost, null);
    loop.close();
    await assertNoLeaks(t, base);
  },
);

serial('allowBroadcast sets SO_BROADCAST', async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  const [transport, protocol] = await loop.createDatagramEndpoint(() => new Recorder(), {
    localAddr: ['0.0.0.0', 0],
    allowBroadcast: true,
  });
  const port = transport.getExtraInfo('sockname')![1];
  // Only a socket with SO_BROADCAST may send to the broadcast address.
  transport.sendto('to all', ['255.255.255.255', port]);
  await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(protocol.errors, []);
  transport.close();
  await protocol.lost;
  loop.close();
  await assertNoLeaks(t, base);
});

serial(
  'reusePort lets two endpoints bind one port (as on UvEventLoop); no address at all is refused',
  async (t) => {
    const base = resourceCounts();
    const loop = new NodeEventLoop();
    const [a, pa] = await loop.createDatagramEndpoint(() => new Recorder(), {
      localAddr: ['127.0.0.1', 0],
      reusePort: true,
    });
    const port = a.getExtraInfo('sockname')![1];
    const [b, pb] = await loop.createDatagramEndpoint(() => new Recorder(), {
      localAddr: ['127.0.0.1', port],
      reusePort: true,
    });
    t.is(b.getExtraInfo('sockname')![1], port);
    const err = await t.throwsAsync(
      loop.createDatagramEndpoint(() => new Recorder(), { localAddr: ['127.0.0.1', port] }),
    );
    t.is((err as { code?: string }).code, 'EADDRINUSE', 'without reusePort the port is taken');
    await t.throwsAsync(
      loop.createDatagramEndpoint(() => new Recorder(), {}),
      { code: 'ERR_INVALID_ARG_VALUE' },
    );
    a.close();
    b.close();
    await Promise.all([pa.lost, pb.lost]);
    loop.close();
    await assertNoLeaks(t, base);
  },
);

serial('close() sends what was queued before closing', async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  const [serverTransport, server] = await loop.createDatagramEndpoint(() => new Recorder(), {
    localAddr: ['127.0.0.1', 0],
  });
  const addr = serverTransport.getExtraInfo('sockname')!;
  const [clientTransport, client] = await loop.createDatagramEndpoint(() => new Recorder(), {
    remoteAddr: addr,
  });
  for (let i = 0; i < 50; i++) clientTransport.sendto(`n${i}`);
  clientTransport.close();
  t.true(clientTransport.isClosing());
  await client.lost;
  await server.until(50);
  t.is(server.received.length, 50);
  serverTransport.close();
  await server.lost;
  loop.close();
  await assertNoLeaks(t, base);
});
