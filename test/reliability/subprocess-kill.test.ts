// A child killed by SIGKILL in the middle of its output: everything it
// wrote before it died is delivered, the exit is reported exactly once
// (with -9 / termSignal 9), every pipe is closed, nothing is left open.
// (The conformance suite kills idle children and checks -signum; this
// kills writing ones and checks the bytes.)
import test from 'ava';
import { Process, type Pipe, type SubprocessProtocol, type SubprocessTransport } from 'asyncuv';
import { deferred, loopTest, waitFor, within } from '../helpers/loop-test.js';
import { onUvEventLoop } from '../helpers/event-loop-test.js';
import { closeAll } from './tcp-peers.js';

// seq writes ~1.3 MB through a 64 KiB pipe, then the shell kills itself:
// the last pipe-full is still unread when the child is already dead.
const kScript = 'seq 1 200000; kill -KILL $$';
const expected = Array.from({ length: 200000 }, (_, i) => `${i + 1}\n`).join('');

class Recorder implements SubprocessProtocol {
  connectionMade?(transport: SubprocessTransport): void;
  readonly out: Buffer[] = [];
  readonly events: string[] = [];
  exited = 0;
  lost = 0;
  readonly done = deferred();
  pipeDataReceived(fd: number, data: Buffer): void {
    if (fd === 1) this.out.push(data);
  }
  pipeConnectionLost(fd: number, err: Error | null): void {
    this.events.push(`pipe${fd}:${String(err)}`);
  }
  processExited(): void {
    this.exited++;
    this.events.push('exited');
  }
  connectionLost(err: Error | null): void {
    this.lost++;
    this.events.push(`lost:${String(err)}`);
    this.done.resolve();
  }
  get text(): string {
    return Buffer.concat(this.out).toString();
  }
}

test('subprocessExec: a child that SIGKILLs itself after 1.3 MB: all of it delivered, -9 once, pipes closed', (t) =>
  onUvEventLoop(t, async (loop) => {
    const [transport, proto] = await loop.subprocessExec(
      () => new Recorder(),
      'sh',
      ['-c', kScript],
      { stdin: 'ignore' },
    );
    await within(proto.done.promise, 'connectionLost', 20_000);
    t.is(transport.getReturncode(), -9);
    t.is(await transport.wait(), -9);
    t.is(proto.exited, 1);
    t.is(proto.lost, 1);
    t.is(proto.text.length, expected.length);
    t.true(proto.text === expected, 'the output is exactly what seq wrote');
    // stdout and stderr closed (at EOF, no error) and the exit, in either
    // order (a dead child's pipe may still hold data), then the loss, last.
    t.is(proto.events.at(-1), 'lost:null');
    t.is(proto.events.filter((e) => e === 'exited').length, 1);
    t.deepEqual(proto.events.filter((e) => e.startsWith('pipe')).sort(), [
      'pipe1:null',
      'pipe2:null',
    ]);
    t.true((transport.getPipeTransport(1) as { isClosing(): boolean }).isClosing());
    transport.close(); // after the end: a no-op, not a second report
    await new Promise((r) => setTimeout(r, 20));
    t.is(proto.exited, 1);
    t.is(proto.lost, 1);
  }));

test('subprocessExec: kill() while the child is writing as fast as it can: -9 once, the output is an unbroken prefix', (t) =>
  onUvEventLoop(t, async (loop) => {
    let transport!: SubprocessTransport;
    let killed = false;
    const proto = new Recorder();
    // Output can arrive before subprocessExec()'s promise resumes us: take
    // the transport from connectionMade, which comes first.
    proto.connectionMade = (tr: SubprocessTransport): void => void (transport = tr);
    proto.pipeDataReceived = (fd: number, data: Buffer): void => {
      if (fd !== 1) return;
      proto.out.push(data);
      // Kill it in the middle of the stream, once, after 1 MiB.
      if (!killed && proto.out.reduce((n, b) => n + b.byteLength, 0) > 1 << 20) {
        killed = true;
        transport.kill();
      }
    };
    await loop.subprocessExec(() => proto, 'yes', ['0123456789abcdef'], { stdin: 'ignore' });
    await within(proto.done.promise, 'connectionLost', 20_000);
    t.true(killed);
    t.is(transport.getReturncode(), -9);
    t.is(proto.exited, 1);
    t.is(proto.lost, 1);
    const text = proto.text;
    // Whole lines, then at most one partial line: nothing lost or repeated in between.
    t.true(text.length > 1 << 20);
    const line = '0123456789abcdef\n';
    const whole = Math.floor(text.length / line.length);
    t.true(text.slice(0, whole * line.length) === line.repeat(whole));
    t.true(line.startsWith(text.slice(whole * line.length)));
  }));

loopTest(
  'Process handle: a child SIGKILLed after 1.3 MB: onExit once with signal 9, the pipe reads everything to EOF',
  async (t, loop) => {
    const exits: Array<[number, number]> = [];
    const proc = Process.spawn(loop, {
      file: 'sh',
      args: ['-c', kScript],
      stdio: ['ignore', 'pipe', 'ignore'],
      onExit: (s, sig) => exits.push([s, sig]),
    });
    const out = proc.stdio[1] as Pipe;
    const parts: Buffer[] = [];
    const eof = deferred<Error | null>();
    out.readStart((err, data) => {
      if (data !== null) parts.push(data);
      else eof.resolve(err);
    });
    t.is(await within(eof.promise, 'EOF on stdout', 20_000), null);
    t.true(await waitFor(() => exits.length > 0, 10_000));
    await new Promise((r) => setTimeout(r, 20));
    t.deepEqual(exits, [[0, 9]]);
    t.true(Buffer.concat(parts).toString() === expected);
    await closeAll(out, proc);
  },
);
