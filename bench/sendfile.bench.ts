// sendfile: a 64 MiB file served over loopback TCP to curl (a native
// client, so the reader is not the bottleneck), one connection per file.
// Ours: a Protocol on UvEventLoop answering with loop.sendfile (the
// kernel's sendfile(2), zero-copy). Node's: a node:net server piping
// fs.createReadStream into the socket, what a Node program does to send a
// file. Both answer one HTTP/1.0 response so that curl can fetch it.
import { execFile } from 'node:child_process';
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { type Protocol, type Transport, UvEventLoop } from 'asyncuv';
import { type BenchCase, formatTable, runCase } from './harness.js';

const kSize = 64 * 1024 * 1024;
const kFetches = 8;
let dir = '';
let file = '';
let fd = -1;

function header(): string {
  return `HTTP/1.0 200 OK\r\nContent-Length: ${kSize}\r\nConnection: close\r\n\r\n`;
}

/** curl fetches the file kFetches times, one connection each; resolves with MB/s. */
function fetchAll(port: number): Promise<number> {
  const urls = Array.from({ length: kFetches }, () => `http://127.0.0.1:${port}/`);
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    execFile(
      'curl',
      ['-sSf', '-o', '/dev/null', ...urls.flatMap((u) => [u, '-o', '/dev/null'])],
      (err) => {
        if (err !== null) return reject(err);
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        resolve((kFetches * kSize) / 1e6 / seconds);
      },
    );
  });
}

/** Answers the first bytes of a request with the header and the file, then closes. */
class FileServer implements Protocol {
  #transport: Transport | undefined;
  #started = false;

  constructor(private readonly loop: UvEventLoop) {}

  connectionMade(t: Transport): void {
    this.#transport = t;
  }

  dataReceived(): void {
    if (this.#started) return;
    this.#started = true;
    const t = this.#transport!;
    t.write(header());
    this.loop.sendfile(t, fd).then(
      () => t.close(),
      () => t.abort(),
    );
  }
}

export const cases: BenchCase[] = [
  {
    name: `sendfile 64 MiB to curl x ${kFetches}`,
    unit: 'MB',
    rounds: 3,
    setup: async () => {
      dir = mkdtempSync(join(tmpdir(), 'asyncuv-bench-sendfile-'));
      file = join(dir, 'data');
      writeFileSync(file, Buffer.alloc(kSize, 'x'));
      fd = openSync(file, 'r');
    },
    teardown: async () => {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    },
    ours: {
      label: 'UvEventLoop loop.sendfile',
      run: async () => {
        const loop = new UvEventLoop();
        const server = await loop.createServer(() => new FileServer(loop), '127.0.0.1', 0);
        try {
          return await fetchAll(server.sockets()[0]!.port);
        } finally {
          server.close();
          await server.waitClosed();
          loop.close();
        }
      },
    },
    theirs: {
      label: 'node:net + createReadStream pipe',
      run: async () => {
        const server = net.createServer((socket) => {
          socket.once('data', () => {
            socket.write(header());
            pipeline(createReadStream(file), socket, () => socket.destroy());
          });
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        try {
          return await fetchAll((server.address() as net.AddressInfo).port);
        } finally {
          await new Promise((resolve) => server.close(resolve));
        }
      },
    },
  },
];

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const results = [];
  for (const c of cases) results.push(await runCase(c));
  console.log(formatTable(results));
}
