import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import net from 'node:net';
import { constants, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeEventLoop, type Protocol, type Transport } from 'asyncuv';
import { CollectProtocol, EchoProtocol } from './protocols.js';
import { assertNoLeaks, resourceCounts } from './resources.js';

const serial = test.serial;

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'asyncuv-nodeloop-'));
}

serial('unix socket echo: server and client, path as the address', async (t) => {
  const base = resourceCounts();
  const dir = await tempDir();
  const path = join(dir, 'echo.sock');
  const loop = new NodeEventLoop();
  const served: EchoProtocol[] = [];
  const server = await loop.createUnixServer(() => {
    const p = new EchoProtocol();
    served.push(p);
    return p;
  }, path);
  t.deepEqual(server.sockets(), [{ path }]);
  const [transport, client] = await loop.createUnixConnection(() => new CollectProtocol(), path);
  t.is(transport.getExtraInfo('peername'), path);
  transport.write('over a unix socket');
  await client.until(18);
  t.is(client.data().toString(), 'over a unix socket');
  t.is(served[0]!.transport!.getExtraInfo('sockname'), path);
  transport.close();
  t.is(await client.lost, null);
  t.is(await served[0]!.lost, null);
  server.close();
  await server.waitClosed();
  loop.close();
  await rm(dir, { recursive: true });
  await assertNoLeaks(t, base);
});

serial('a unix connection to a missing path rejects with ENOENT', async (t) => {
  const base = resourceCounts();
  const dir = await tempDir();
  const loop = new NodeEventLoop();
  const err = await t.throwsAsync(
    loop.createUnixConnection(() => new CollectProtocol(), join(dir, 'nothing')),
  );
  t.is((err as { code?: string }).code, 'ENOENT');
  loop.close();
  await rm(dir, { recursive: true });
  await assertNoLeaks(t, base);
});

serial('a server made with startServing: false serves what arrived once started', async (t) => {
  const base = resourceCounts();
  const dir = await tempDir();
  const path = join(dir, 'later.sock');
  const loop = new NodeEventLoop();
  let made = 0;
  const server = await loop.createUnixServer(
    () => {
      made++;
      return new EchoProtocol();
    },
    path,
    { startServing: false },
  );
  t.false(server.isServing());
  const [transport, client] = await loop.createUnixConnection(() => new CollectProtocol(), path);
  transport.write('early');
  await new Promise((r) => setTimeout(r, 30));
  t.is(made, 0, 'no protocol before startServing');
  await server.startServing();
  t.true(server.isServing());
  await client.until(5);
  t.is(client.data().toString(), 'early');
  transport.close();
  await client.lost;
  server.close();
  await server.waitClosed();
  loop.close();
  await rm(dir, { recursive: true });
  await assertNoLeaks(t, base);
});

// A FIFO gives real pipe fds without native help: open it non-blocking
// for reading first, then for writing.
async function fifo(): Promise<{ dir: string; readFd: number; writeFd: number }> {
  const dir = await tempDir();
  const path = join(dir, 'fifo');
  await promisify(execFile)('mkfifo', [path]);
  const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writeFd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  return { dir, readFd, writeFd };
}

serial('connectReadPipe and connectWritePipe move bytes through a pipe, then EOF', async (t) => {
  const base = resourceCounts();
  const { dir, readFd, writeFd } = await fifo();
  const loop = new NodeEventLoop();
  const [reader, readProtocol] = await loop.connectReadPipe(() => new CollectProtocol(), readFd);
  const writerCalls: string[] = [];
  let writerLost!: (e: Error | null) => void;
  const writerGone = new Promise<Error | null>((r) => (writerLost = r));
  const writerProtocol: Protocol = {
    connectionMade: () => void writerCalls.push('made'),
    connectionLost: (err) => {
      writerCalls.push('lost');
      writerLost(err);
    },
  };
  const [writer] = await loop.connectWritePipe(() => writerProtocol, writeFd);
  t.true(reader.getExtraInfo('pipe') instanceof net.Socket);
  t.true(writer.getExtraInfo('pipe') instanceof net.Socket);
  const payload = Buffer.alloc(300_000, 7);
  writer.write(payload);
  writer.close(); // flushes, then closes the fd: the reader sees EOF
  await readProtocol.until(payload.length);
  t.is(await readProtocol.lost, null);
  t.is(await writerGone, null);
  t.true(readProtocol.data().equals(payload));
  t.deepEqual(readProtocol.calls, ['made', 'eof', 'lost']);
  t.deepEqual(writerCalls, ['made', 'lost']);
  t.false((reader as Transport).isReading());
  loop.close();
  await rm(dir, { recursive: true });
  await assertNoLeaks(t, base);
});
