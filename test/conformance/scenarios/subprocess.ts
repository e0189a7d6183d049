// Subprocesses (test_events.py SubprocessTestsMixin: exec, interactive,
// shell, exit codes, kill/terminate/send_signal with -signum return codes,
// stderr, stderr to stdout, closing stdin, env and cwd).
import { constants, tmpdir } from 'node:os';
import { realpathSync } from 'node:fs';
import type { UvError, WriteTransport } from 'asyncuv';
import { FlowSubprocessProtocol, MySubprocessProtocol } from '../protocols.js';
import { featureCases, type MakeLoop, type Test, until, untilStalled, within } from '../harness.js';

const SIG = constants.signals;

export function subprocess(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = featureCases(test, makeLoop, 'subprocess', name);

  it('subprocessExec: stdin to stdout through cat, then close() kills it', async ({ loop }, t) => {
    // The child outlives the EOF that close() gives its stdin (plain cat
    // could exit 0 before the kill lands), so the kill is what ends it.
    const [transport, proto] = await loop.subprocessExec(() => new MySubprocessProtocol(), 'sh', [
      '-c',
      'cat; exec sleep 30',
    ]);
    t.is(proto.state, 'CONNECTED');
    t.true(transport.getPid() > 0);
    t.is(transport.getReturncode(), null);
    const stdin = transport.getPipeTransport(0) as WriteTransport;
    stdin.write('Python The Winner');
    await until(() => proto.data[1]!.length >= 17, 'echoed data');
    t.is(proto.data[1]!.toString(), 'Python The Winner');
    transport.close();
    await within(proto.completed, 'processExited');
    // close() kills a running child: asyncio's check_killed.
    t.is(transport.getReturncode(), -SIG.SIGKILL);
    await within(proto.disconnected, 'connectionLost');
    t.deepEqual(proto.violations, []);
  });

  it('close() kills a running cat before closing its pipes: -SIGKILL', async ({ loop }, t) => {
    // Plain cat exits 0 at EOF on its stdin: closing the pipes first let it
    // win the race against the kill (asyncio closes them an iteration later).
    const [transport, proto] = await loop.subprocessExec(() => new MySubprocessProtocol(), 'cat');
    (transport.getPipeTransport(0) as WriteTransport).write('ping');
    await until(() => proto.data[1]!.toString() === 'ping', 'cat running and echoing');
    transport.close();
    t.true(transport.isClosing());
    t.is(await within(transport.wait(), 'exit'), -SIG.SIGKILL);
    await within(proto.disconnected, 'connectionLost');
    t.deepEqual(proto.violations, []);
  });

  it('stdin flow control reaches the SubprocessProtocol; bounded buffer', async ({ loop }, t) => {
    const { createHash, randomBytes } = await import('node:crypto');
    const payload = randomBytes(2 * 1024 * 1024);
    const chunk = 16 * 1024;
    const high = 64 * 1024;
    const proto = new FlowSubprocessProtocol();
    const [transport] = await loop.subprocessExec(() => proto, 'cat');
    const stdin = transport.getPipeTransport(0) as WriteTransport;
    stdin.setWriteBufferLimits({ high });
    let maxBuffered = 0;
    // A writer that respects flow control, as asyncio's drain() does.
    for (let offset = 0; offset < payload.length; offset += chunk) {
      await proto.writable();
      stdin.write(payload.subarray(offset, offset + chunk));
      maxBuffered = Math.max(maxBuffered, stdin.getWriteBufferSize());
    }
    stdin.close();
    t.is(await within(transport.wait(), 'exit', 20000), 0);
    await within(proto.disconnected, 'connectionLost', 20000);
    t.true(proto.pauses > 0, 'pauseWriting reached the subprocess protocol');
    t.is(proto.resumes, proto.pauses, 'each pause was followed by resumeWriting');
    t.true(maxBuffered <= high + chunk, `at most high + one write buffered (saw ${maxBuffered})`);
    t.is(proto.data[1]!.length, payload.length);
    const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    t.is(sha(proto.data[1]!), sha(payload));
    t.deepEqual(proto.violations, []);
    transport.close();
  });

  it('subprocessExec: an interactive exchange line by line', async ({ loop }, t) => {
    const [transport, proto] = await loop.subprocessExec(() => new MySubprocessProtocol(), 'cat');
    const stdin = transport.getPipeTransport(0) as WriteTransport;
    stdin.write('Python ');
    await until(() => proto.data[1]!.toString() === 'Python ', 'first reply');
    stdin.write('The Winner');
    await until(() => proto.data[1]!.toString() === 'Python The Winner', 'second reply');
    // Closing stdin lets cat see EOF and exit by itself.
    stdin.close();
    t.is(await within(transport.wait(), 'exit'), 0);
    await within(proto.disconnected, 'connectionLost');
    t.is(proto.pipesLost[1], null);
    t.deepEqual(proto.violations, []);
  });

  it('4 MiB through cat: pipe transports under back-pressure both ways', async ({ loop }, t) => {
    const { createHash, randomBytes } = await import('node:crypto');
    const payload = randomBytes(4 * 1024 * 1024);
    const [transport, proto] = await loop.subprocessExec(() => new MySubprocessProtocol(), 'cat');
    const stdin = transport.getPipeTransport(0) as WriteTransport;
    for (let i = 0; i < payload.length; i += 65536) stdin.write(payload.subarray(i, i + 65536));
    stdin.close();
    // What fails is 10 s in which no byte comes back (a stall), not a loaded
    // machine that is slow to move 4 MiB each way.
    let lost = false;
    void proto.disconnected.then(() => (lost = true));
    await untilStalled(
      () => lost,
      () => proto.data[1]!.length,
      'connectionLost',
    );
    t.is(await within(transport.wait(), 'exit'), 0);
    t.is(proto.data[1]!.length, payload.length);
    t.is(
      createHash('sha256').update(proto.data[1]!).digest('hex'),
      createHash('sha256').update(payload).digest('hex'),
    );
    transport.close();
  });

  it('subprocessExec refuses arguments that are not strings', async ({ loop }, t) => {
    await t.throwsAsync(
      async () => loop.subprocessExec(() => new MySubprocessProtocol(), 'echo', [42 as never]),
      { code: 'ERR_INVALID_ARG_TYPE' },
    );
    await t.throwsAsync(
      async () => loop.subprocessExec(() => new MySubprocessProtocol(), 42 as never),
      { code: 'ERR_INVALID_ARG_TYPE' },
    );
  });

  it('subprocessShell: output, empty stderr, return code 0', async ({ loop }, t) => {
    const [transport, proto] = await loop.subprocessShell(
      () => new MySubprocessProtocol(),
      'echo Python',
    );
    await within(proto.completed, 'processExited');
    await within(proto.disconnected, 'connectionLost');
    t.is(proto.data[1]!.toString().trimEnd(), 'Python');
    t.is(proto.data[2]!.length, 0);
    t.is(transport.getReturncode(), 0);
    transport.close();
  });

  it('the exit code becomes the return code', async ({ loop }, t) => {
    const [transport, proto] = await loop.subprocessShell(
      () => new MySubprocessProtocol(),
      'exit 7',
    );
    t.is(await within(transport.wait(), 'exit'), 7);
    await within(proto.disconnected, 'connectionLost');
    t.is(transport.getReturncode(), 7);
    t.true(proto.exited);
    transport.close();
  });

  for (const [method, signum] of [
    ['kill', SIG.SIGKILL],
    ['terminate', SIG.SIGTERM],
  ] as const) {
    it(`${method}() ends the child; the return code is -signum`, async ({ loop }, t) => {
      const [transport, proto] = await loop.subprocessExec(
        () => new MySubprocessProtocol(),
        'sleep',
        ['30'],
      );
      transport[method]();
      await within(proto.completed, 'processExited');
      t.is(transport.getReturncode(), -signum);
      await within(proto.disconnected, 'connectionLost');
      transport.close();
    });
  }

  it('sendSignal(SIGHUP) gives return code -SIGHUP', async ({ loop }, t) => {
    const [transport, proto] = await loop.subprocessExec(
      () => new MySubprocessProtocol(),
      'sleep',
      ['30'],
    );
    transport.sendSignal('SIGHUP');
    t.is(await within(transport.wait(), 'exit'), -SIG.SIGHUP);
    await within(proto.disconnected, 'connectionLost');
    // Signalling an exited child is a no-op.
    t.notThrows(() => transport.sendSignal(SIG.SIGTERM));
    transport.close();
  });

  it('stderr arrives as fd 2', async ({ loop }, t) => {
    const [transport, proto] = await loop.subprocessShell(
      () => new MySubprocessProtocol(),
      'echo out; echo ERR:test >&2; exit 3',
    );
    await within(proto.disconnected, 'connectionLost');
    t.is(proto.data[1]!.toString(), 'out\n');
    t.is(proto.data[2]!.toString(), 'ERR:test\n');
    t.is(transport.getReturncode(), 3);
    transport.close();
  });

  it("stderr: 'stdout' sends stderr to the stdout pipe", async ({ loop }, t) => {
    const [transport, proto] = await loop.subprocessExec(
      () => new MySubprocessProtocol(),
      'sh',
      ['-c', 'echo OUT; echo ERR >&2'],
      { stderr: 'stdout' },
    );
    await within(proto.disconnected, 'connectionLost');
    t.is(transport.getPipeTransport(2), null);
    t.deepEqual(proto.data[1]!.toString().split('\n').filter(Boolean).sort(), ['ERR', 'OUT']);
    t.is(proto.data[2]!.length, 0);
    t.is(transport.getReturncode(), 0);
    transport.close();
  });

  it('stdio ignore leaves no pipe transport for that fd', async ({ loop }, t) => {
    const [transport, proto] = await loop.subprocessShell(
      () => new MySubprocessProtocol(),
      'echo hidden',
      { stdin: 'ignore', stdout: 'ignore' },
    );
    t.is(transport.getPipeTransport(0), null);
    t.is(transport.getPipeTransport(1), null);
    t.not(transport.getPipeTransport(2), null);
    await within(proto.disconnected, 'connectionLost');
    t.is(proto.data[1]!.length, 0);
    transport.close();
  });

  it('env and cwd reach the child', async ({ loop }, t) => {
    const dir = realpathSync(tmpdir());
    const [transport, proto] = await loop.subprocessShell(
      () => new MySubprocessProtocol(),
      'echo "$ASYNCUV_TEST_VAR:$(pwd)"',
      {
        env: { ASYNCUV_TEST_VAR: 'conformance', PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
        cwd: dir,
      },
    );
    await within(proto.disconnected, 'connectionLost');
    t.is(proto.data[1]!.toString().trim(), `conformance:${dir}`);
    transport.close();
  });

  it('a program that does not exist rejects with ENOENT, syscall spawn, naming the program', async ({
    loop,
  }, t) => {
    const err = await t.throwsAsync(
      loop.subprocessExec(() => new MySubprocessProtocol(), '/nonexistent/asyncuv-program'),
    );
    t.is((err as UvError).code, 'ENOENT');
    t.is((err as UvError).syscall, 'spawn');
    t.regex(err!.message, /\/nonexistent\/asyncuv-program/);
  });

  it('the order is connectionMade, pipe events, processExited, then connectionLost last', async ({
    loop,
  }, t) => {
    const order: string[] = [];
    const proto = new MySubprocessProtocol();
    const wrap = <K extends 'pipeConnectionLost' | 'processExited' | 'connectionLost'>(k: K) => {
      const original = proto[k].bind(proto) as (...a: unknown[]) => void;
      (proto as unknown as Record<string, unknown>)[k] = (...a: unknown[]) => {
        order.push(k === 'pipeConnectionLost' ? `pipeLost:${String(a[0])}` : k);
        original(...a);
      };
    };
    wrap('pipeConnectionLost');
    wrap('processExited');
    wrap('connectionLost');
    const [transport] = await loop.subprocessShell(() => proto, 'echo done');
    await within(proto.disconnected, 'connectionLost');
    t.is(order.at(-1), 'connectionLost');
    t.true(order.includes('processExited'));
    t.true(order.includes('pipeLost:1') && order.includes('pipeLost:2'));
    t.deepEqual(proto.violations, []);
    transport.close();
  });
}
