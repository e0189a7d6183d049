// A throw in a handle callback goes to Node's uncaughtException machinery,
// never through libuv, and the loop keeps working afterwards. Child
// processes, because ava treats an uncaught exception as a failure.
import test from 'ava';
import { jsonLines, runFixture } from '../helpers/child.js';

test('a throw in a callback reaches uncaughtException and the loop keeps working', async (t) => {
  const child = await runFixture('driver-child.js', ['throw-handled']);
  t.is(child.code, 0, child.stderr);
  const lines = jsonLines(child.stdout);
  t.deepEqual(
    lines
      .filter((l) => 'caught' in l)
      .map((l) => l['caught'])
      .sort(),
    ['boom from a timer', 'boom from an idle'],
  );
  t.is(
    lines.filter((l) => l['afterwards'] === 'fired').length,
    2,
    'timers started after each throw fired',
  );
});

test('a Timer that throws among Timers due together: reported before the next fires', async (t) => {
  const child = await runFixture('driver-child.js', ['throw-among-timers']);
  t.is(child.code, 0, child.stderr);
  t.deepEqual(jsonLines(child.stdout), [
    { fired: 0 },
    { fired: 1 },
    { caught: 'boom from timer 1' },
    { fired: 2 },
    { fired: 3 },
    { alive: false },
  ]);
});

test('an unhandled throw in a callback exits with code 1 and the stack, not an abort', async (t) => {
  const child = await runFixture('driver-child.js', ['throw-unhandled']);
  t.is(child.signal, null, 'not killed by a signal (SIGABRT, SIGSEGV)');
  t.is(child.code, 1);
  t.regex(child.stderr, /Error: unhandled boom/);
});

test('a rejection from an async callback is an unhandled rejection', async (t) => {
  const child = await runFixture('driver-child.js', ['reject-async']);
  t.is(child.signal, null);
  t.is(child.code, 1);
  t.regex(child.stderr, /Error: async boom/);
});

test('a throw in a callback of a blocking run() reaches uncaughtException; the run goes on', async (t) => {
  const child = await runFixture('driver-child.js', ['throw-blocking']);
  t.is(child.code, 0, child.stderr);
  t.deepEqual(jsonLines(child.stdout), [
    { caught: 'boom in a blocking run' },
    { afterwards: 'fired' },
    { alive: false },
    { closed: true },
  ]);
});
