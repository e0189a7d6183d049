// The asyncio layer on our loop: a TCP echo Protocol, a UDP echo endpoint,
// a Unix socket and a subprocess, each used for real.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  UvEventLoop,
  type DatagramTransport,
  type Protocol,
  type Transport,
} from '../../loop/index.js';
import type { TourStep } from './step.js';

class Echo implements Protocol {
  #t: Transport | undefined;
  connectionMade(t: Transport): void {
    this.#t = t;
  }
  dataReceived(data: Buffer): void {
    this.#t!.write(data);
  }
}

/** Sends a message `rounds` times, each after the previous echo; resolves when done. */
class PingPong implements Protocol {
  readonly done: Promise<string>;
  #t: Transport | undefined;
  #left: number;
  #got = '';
  #resolve!: (last: string) => void;

  constructor(
    readonly message: string,
    rounds = 1,
  ) {
    this.#left = rounds;
    this.done = new Promise((resolve) => (this.#resolve = resolve));
  }
  connectionMade(t: Transport): void {
    this.#t = t;
    t.write(this.message);
  }
  dataReceived(data: Buffer): void {
    this.#got += data.toString();
    if (this.#got.length < this.message.length) return;
    const reply = this.#got;
    this.#got = '';
    if (--this.#left > 0) this.#t!.write(this.message);
    else {
      this.#t!.close();
      this.#resolve(reply);
    }
  }
}

export const asyncioLayer: TourStep = {
  title: 'asyncio layer on our loop: TCP, UDP, Unix socket, subprocess',
  async run(ctx) {
    const loop = new UvEventLoop();
    const lines: string[] = [];
    try {
      ctx.progress('asyncio: TCP echo protocol');
      const tcp = await loop.createServer(() => new Echo(), '127.0.0.1', 0);
      const port = (tcp.sockets()[0] as { port: number }).port;
      const rounds = 2000;
      const t0 = performance.now();
      const [, client] = await loop.createConnection(
        () => new PingPong('x'.repeat(64), rounds),
        '127.0.0.1',
        port,
      );
      await client.done;
      lines.push(
        `TCP: ${rounds} ping-pongs through an echo Protocol in ${Math.round(performance.now() - t0)} ms`,
      );
      tcp.close();
      await tcp.waitClosed();

      ctx.progress('asyncio: UDP echo endpoint');
      let server: DatagramTransport | undefined;
      const [udpServer] = await loop.createDatagramEndpoint(
        () => ({
          connectionMade: (t) => (server = t),
          datagramReceived: (d, addr) =>
            server!.sendto(Buffer.from(d.toString().toUpperCase()), addr),
        }),
        { localAddr: ['127.0.0.1', 0] },
      );
      const udpPort = udpServer.getExtraInfo('sockname')![1];
      let answered!: (text: string) => void;
      const reply = new Promise<string>((resolve) => (answered = resolve));
      const [udpClient] = await loop.createDatagramEndpoint(
        () => ({ datagramReceived: (d) => answered(d.toString()) }),
        { remoteAddr: ['127.0.0.1', udpPort] },
      );
      udpClient.sendto('datagram');
      lines.push(`UDP: sent 'datagram', the endpoint answered '${await reply}'`);
      udpClient.close();
      udpServer.close();

      ctx.progress('asyncio: Unix socket');
      const path = join(tmpdir(), `asyncuv-tour-${process.pid}.sock`);
      rmSync(path, { force: true });
      const unix = await loop.createUnixServer(() => new Echo(), path);
      const [, unixClient] = await loop.createUnixConnection(
        () => new PingPong('over a Unix socket'),
        path,
      );
      lines.push(`Unix socket: echoed '${await unixClient.done}'`);
      unix.close();
      await unix.waitClosed();

      ctx.progress('asyncio: subprocess');
      let text = '';
      let exited!: () => void;
      const lost = new Promise<void>((resolve) => (exited = resolve));
      const [proc] = await loop.subprocessShell(
        () => ({
          pipeDataReceived: (_fd, d) => (text += d.toString()),
          connectionLost: () => exited(),
        }),
        'echo "hello from a child shell, pid $$"; exit 7',
      );
      await lost;
      lines.push(`subprocess: read '${text.trim()}', return code ${proc.getReturncode()}`);
    } finally {
      // Let the transports' close callbacks run before the loop goes.
      await new Promise((r) => setTimeout(r, 20));
      loop.close();
    }
    return lines;
  },
};
