import test from 'ava';
import {
  NodeEventLoop,
  type SubprocessProtocol,
  type SubprocessTransport,
  type WriteTransport,
} from 'asyncuv';
import { assertNoLeaks, resourceCounts } from './resources.js';

const serial = test.serial;

/** Records the subprocess protocol's calls and each fd's output. */
class Child implements SubprocessProtocol {
  transport: SubprocessTransport | undefined;
  calls: string[] = [];
  output = new Map<number, Buffer[]>();
  done: Promise<void>;
  #done!: () => void;

  constructor() {
    this.done = new Promise((r) => (this.#done = r));
  }

  connectionMade(t: SubprocessTransport): void {
    this.transport = t;
    this.calls.push('made');
  }

  pipeDataReceived(fd: number, data: Buffer): void {
    const list = this.output.get(fd) ?? [];
    list.push(data);
    this.output.set(fd, list);
  }

  pipeConnectionLost(fd: number, err: Error | null): void {
    this.calls.push(`pipe ${fd} lost${err ? ` ${err.message}` : ''}`);
  }

  processExited(): void {
    this.calls.push('exited');
  }

  connectionLost(err: Error | null): void {
    this.calls.push(`lost ${err}`);
    this.#done();
  }

  text(fd: number): string {
    return Buffer.concat(this.output.get(fd) ?? []).toString();
  }
}

serial(
  'cat echoes stdin to stdout; returncode 0; every pipe lost before connectionLost',
  async (t) => {
    const base = resourceCounts();
    const loop = new NodeEventLoop();
    const [transport, child] = await loop.subprocessExec(() => new Child(), 'cat', []);
    t.true(transport.getPid() > 0);
    t.is(transport.getReturncode(), null);
    const stdin = transport.getPipeTransport(0) as WriteTransport;
    const payload = 'x'.repeat(200_000);
    stdin.write(payload);
    stdin.close();
    t.is(await transport.wait(), 0);
    await child.done;
    t.is(child.text(1), payload);
    t.is(transport.getReturncode(), 0);
    t.is(child.calls[0], 'made');
    t.is(child.calls.at(-1), 'lost null');
    t.deepEqual([...child.calls].sort(), [
      'exited',
      'lost null',
      'made',
      'pipe 0 lost',
      'pipe 1 lost',
      'pipe 2 lost',
    ]);
    transport.close();
    loop.close();
    await assertNoLeaks(t, base);
  },
);

serial('a child that exits at once still has connectionMade before its output', async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  // child_process resumes a dead child's stdout by itself; the transport
  // must still hold the data until the protocol is connected.
  for (let i = 0; i < 10; i++) {
    const [transport, child] = await loop.subprocessShell(() => new Child(), 'echo quick', {
      stdin: 'ignore',
    });
    await child.done;
    t.is(child.calls[0], 'made');
    t.is(child.text(1), 'quick\n');
    transport.close();
  }
  loop.close();
  await assertNoLeaks(t, base);
});

serial('exit codes come back as they are; a signal gives -signum', async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  const [exit3, c3] = await loop.subprocessShell(() => new Child(), 'exit 3');
  t.is(await exit3.wait(), 3);
  await c3.done;
  exit3.close();

  const [sleeper, cs] = await loop.subprocessExec(() => new Child(), 'sleep', ['30']);
  sleeper.terminate();
  t.is(await sleeper.wait(), -15);
  await cs.done;
  sleeper.sendSignal('SIGKILL'); // a no-op once exited
  sleeper.close();

  const [killed, ck] = await loop.subprocessExec(() => new Child(), 'sleep', ['30']);
  killed.kill();
  t.is(await killed.wait(), -9);
  t.is(killed.getReturncode(), -9);
  await ck.done;
  killed.close();

  const [usr1, cu] = await loop.subprocessExec(() => new Child(), 'sleep', ['30']);
  usr1.sendSignal(10);
  t.is(await usr1.wait(), -10);
  await cu.done;
  usr1.close();
  loop.close();
  await assertNoLeaks(t, base);
});

serial("stderr: 'stdout' sends both streams into one pipe, in order", async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  const [transport, child] = await loop.subprocessShell(
    () => new Child(),
    'echo one; echo two >&2; echo three',
    { stderr: 'stdout', stdin: 'ignore' },
  );
  t.is(transport.getPipeTransport(0), null);
  t.is(transport.getPipeTransport(2), null);
  t.is(await transport.wait(), 0);
  await child.done;
  t.is(child.text(1), 'one\ntwo\nthree\n');
  t.is(child.output.has(2), false);
  transport.close();
  loop.close();
  await assertNoLeaks(t, base);
});

serial(
  'stdout and stderr are separate pipes; env and cwd reach the child; ignore gives no pipe',
  async (t) => {
    const base = resourceCounts();
    const loop = new NodeEventLoop();
    const [transport, child] = await loop.subprocessShell(
      () => new Child(),
      'echo "$GREETING from $(pwd)"; echo oops >&2',
      {
        env: { GREETING: 'hello', PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
        cwd: '/tmp',
        stdin: 'ignore',
      },
    );
    t.is(transport.getPipeTransport(0), null);
    t.is(await transport.wait(), 0);
    await child.done;
    t.is(child.text(1), 'hello from /tmp\n');
    t.is(child.text(2), 'oops\n');
    transport.close();
    loop.close();
    await assertNoLeaks(t, base);
  },
);

serial('a program that does not exist rejects with ENOENT', async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  const err = await t.throwsAsync(
    loop.subprocessExec(() => new Child(), '/nonexistent/program', []),
  );
  t.is((err as { code?: string }).code, 'ENOENT');
  loop.close();
  await assertNoLeaks(t, base);
});

serial('close() kills a child that still runs', async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  const [transport, child] = await loop.subprocessExec(() => new Child(), 'sleep', ['30']);
  transport.close();
  t.true(transport.isClosing());
  t.is(await transport.wait(), -9);
  await child.done;
  t.true(child.calls.includes('exited'));
  loop.close();
  await assertNoLeaks(t, base);
});
