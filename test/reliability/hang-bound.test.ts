// The tests' hang bounds (test/helpers/loop-test.ts) count only time in
// which the thread ran: a process held up (not scheduled on a loaded
// machine, or blocked) does not fail a wait that would have succeeded,
// while a wait for something that never comes still fails, naming it.
// Serial: a test that holds the thread up holds up every test of the file.
import test from 'ava';
import { untilStalled, until, waitFor, within } from '../helpers/loop-test.js';

function block(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // the thread is held up
  }
}

test.serial('within rejects after its bound, naming what it waited for', async (t) => {
  const err = await t.throwsAsync(within(new Promise(() => {}), 'a callback', 100));
  // A loaded machine may hold the thread up here too: then the message says so.
  t.regex(
    err?.message ?? '',
    /^timed out after 100 ms( \(and \d+ ms in which the thread was held up\))? waiting for a callback$/,
  );
});

test.serial('time in which the thread was held up does not use up a bound', async (t) => {
  const begun = performance.now();
  setTimeout(() => block(1500), 10);
  const err = await t.throwsAsync(within(new Promise(() => {}), 'a callback', 400));
  t.true(performance.now() - begun >= 1500, 'the bound went on after the thread was held up');
  t.regex(
    err?.message ?? '',
    /^timed out after 400 ms \(and \d+ ms in which the thread was held up\) waiting for a callback$/,
  );
});

test.serial('a condition met after the thread was held up is seen in time', async (t) => {
  let ready = false;
  setTimeout(() => {
    block(2000);
    setTimeout(() => (ready = true), 20);
  }, 10);
  await until(() => ready, 'ready', 1000);
  t.true(await waitFor(() => ready, 1000));
});

test.serial('untilStalled waits while progress is made and fails once it stops', async (t) => {
  let count = 0;
  const timer = setInterval(() => count++, 20);
  try {
    // The bound is well above one step of HangBound (250 ms): a process
    // that a loaded machine does not run for 200 ms is no stall.
    await untilStalled(
      () => count >= 30,
      () => count,
      'thirty ticks',
      1500,
    );
    t.true(count >= 30);
  } finally {
    clearInterval(timer);
  }
  const stuck = count;
  const err = await t.throwsAsync(
    untilStalled(
      () => false,
      () => stuck,
      'more ticks',
      100,
    ),
  );
  t.regex(
    err?.message ?? '',
    /^timed out after 100 ms( \(and \d+ ms in which the thread was held up\))? waiting for more ticks \(stuck at \d+\)$/,
  );
  t.true(err?.message.endsWith(`(stuck at ${stuck})`));
});
