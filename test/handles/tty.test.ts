import test from 'ava';
import { execFile } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Loop, Pipe, Process, TTY, UsageError, UvError } from '../../handles/index.js';
import { withPrograms } from '../helpers/tools.js';
import { assertNoHandlesAndClose } from '../helpers/loop-test.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const child = join(here, '..', 'fixtures', 'tty-child.js');
// The Python driver is not compiled: it lives in the source tree.
const driver = join(here, '..', '..', '..', 'test', 'fixtures', 'pty-run.py');

interface PtyRun {
  output: string;
  status: number;
  error: string | null;
}

function runOnPty(rows: number, cols: number, rows2: number, cols2: number): Promise<PtyRun> {
  const args = [
    driver,
    String(rows),
    String(cols),
    String(rows2),
    String(cols2),
    '--',
    process.execPath,
    child,
  ];
  return new Promise((resolve, reject) =>
    execFile('python3', args, { timeout: 25_000 }, (err, stdout) =>
      err ? reject(err) : resolve(JSON.parse(stdout) as PtyRun),
    ),
  );
}

withPrograms(test, ['python3'])(
  'on a real pseudo-terminal: winsize, raw keystrokes without echo, normal mode with echo',
  async (t) => {
    const run = await runOnPty(33, 101, 40, 120);
    t.is(run.error, null);
    t.is(run.status, 0);
    const out = run.output;
    t.log(JSON.stringify(out));
    // The size python set before the child started, then after a resize.
    t.true(out.includes('SIZE {"columns":101,"rows":33}'));
    t.true(out.includes('SIZE2 {"columns":120,"rows":40}'));
    t.true(out.includes('BADMODE ERR_INVALID_ARG_VALUE'));
    // Output goes through the terminal: "\n" comes out as "\r\n".
    t.true(out.includes('READY\r\n'));
    // Raw mode: 'ab' arrives without a newline, and the terminal does not echo it.
    const afterReady = out.slice(out.indexOf('READY'));
    t.true(afterReady.includes('GOT 6162'));
    t.false(afterReady.slice(0, afterReady.indexOf('GOT 6162')).includes('ab'));
    // Raw mode: Ctrl-C is a byte for us, not SIGINT (the child exited 0).
    t.true(out.includes('GOT 03'));
    // Normal mode again: the terminal echoes the typed line and delivers it
    // whole, newline included.
    const afterNormal = out.slice(out.indexOf('NORMAL'));
    t.true(afterNormal.includes('xy\r\n'));
    t.true(afterNormal.includes('LINE 78790a'));
  },
);

test('a fd that is not a terminal is ENOTTY, a closed one EBADF: typed errors, no crash', async (t) => {
  const loop = new Loop();
  const file = openSync('/dev/null', 'r');
  const notTty = t.throws(() => new TTY(loop, file, true), { instanceOf: UvError });
  t.is((notTty as UvError).code, 'ENOTTY');
  t.is((notTty as UvError).syscall, 'tty_init');
  t.false(TTY.isatty(file));
  closeSync(file);
  const closed = t.throws(() => new TTY(loop, file, true), { instanceOf: UvError });
  t.is((closed as UvError).code, 'EBADF');

  // A pipe is not a terminal either: the stdout pipe of a child.
  const proc = Process.spawn(loop, { file: 'true', stdio: ['ignore', 'pipe'] });
  const pipe = proc.stdio[1] as Pipe;
  const onPipe = t.throws(() => new TTY(loop, pipe.fileno(), false), { instanceOf: UvError });
  t.is((onPipe as UvError).code, 'ENOTTY');

  t.throws(() => new TTY(loop, -1, true), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => new TTY(loop, 0, 'yes' as unknown as boolean), { code: 'ERR_INVALID_ARG_TYPE' });
  // Nothing changed a mode in this process: resetting is a harmless no-op.
  t.notThrows(() => TTY.resetMode());
  await new Promise<void>((resolve) => pipe.close(() => proc.close(resolve)));
  await assertNoHandlesAndClose(t, loop);
});

test('a terminal libuv cannot reopen (a pty master) refuses reads with ERR_TTY_BLOCKING', async (t) => {
  const loop = new Loop();
  // ttyname() fails on a pty master, so libuv keeps its fd blocking: a read
  // would block the thread, and is refused before libuv starts one.
  const master = openSync('/dev/ptmx', 'r+');
  t.true(TTY.isatty(master));
  const tty = new TTY(loop, master, true);
  t.throws(() => tty.readStart(() => {}), { instanceOf: UsageError, code: 'ERR_TTY_BLOCKING' });
  t.throws(() => tty.readStartInto(Buffer.alloc(16), () => {}), {
    instanceOf: UsageError,
    code: 'ERR_TTY_BLOCKING',
  });
  t.false(tty.active, 'no read was started');
  await new Promise<void>((resolve) => tty.close(resolve));
  await assertNoHandlesAndClose(t, loop);
});
