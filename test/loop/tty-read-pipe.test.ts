// connectReadPipe on a terminal's fd (stdin on a pseudo-terminal, made by
// test/fixtures/pty-line.py): UvEventLoop reads the typed line, as asyncio
// does; NodeEventLoop refuses a terminal with ERR_NOT_SUPPORTED.
import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withPrograms } from '../helpers/tools.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const child = join(here, '..', 'fixtures', 'tty-read-pipe.js');
// The Python driver is not compiled: it lives in the source tree.
const driver = join(here, '..', '..', '..', 'test', 'fixtures', 'pty-line.py');

function onPty(loop: 'uv' | 'node'): Promise<{ output: string; status: number }> {
  const args = [driver, 'hello tty', '--', process.execPath, child, loop];
  return new Promise((resolve, reject) =>
    execFile('python3', args, { timeout: 30_000 }, (err, stdout) =>
      err ? reject(err) : resolve(JSON.parse(stdout) as { output: string; status: number }),
    ),
  );
}

const ptyTest = withPrograms(test, ['python3']);

ptyTest('UvEventLoop.connectReadPipe reads a line typed on a terminal', async (t) => {
  const run = await onPty('uv');
  t.is(run.status, 0, run.output);
  t.true(run.output.includes('READY'), run.output);
  // The terminal's line discipline delivers the line with its newline.
  t.true(run.output.includes('GOT "hello tty\\n"'), run.output);
});

ptyTest('NodeEventLoop.connectReadPipe refuses a terminal with ERR_NOT_SUPPORTED', async (t) => {
  const run = await onPty('node');
  t.is(run.status, 0, run.output);
  t.true(run.output.includes('ERROR ERR_NOT_SUPPORTED'), run.output);
});
