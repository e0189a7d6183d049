// worker.terminate() may land at any moment of a worker's life, and it must
// never take the process down. A child process (terminate-stress-main.ts)
// starts workers three at a time, each busy with every handle kind, fs and
// dns requests, the asyncio layer and every sync primitive (blocking and
// async waits), or blocked in a run() or a wait, and terminates each at a
// random moment. The child must exit 0, by itself, with no signal: an abort
// (a failed throw in node-addon-api, a Node-API misuse), a segfault or a
// hung terminate() (the child kills itself after 60 s) all fail it.
//
// ASYNCUV_TERMINATE_WORKERS sets the number of workers (200 by default);
// ASYNCUV_TERMINATE_SEED repeats a run (each run prints its seed).
import test from 'ava';
import { jsonLines, runFixture } from '../helpers/child.js';
import { kinds } from '../fixtures/terminate-stress-kinds.js';

const workers = Number(process.env['ASYNCUV_TERMINATE_WORKERS'] ?? 200);
const seed = process.env['ASYNCUV_TERMINATE_SEED'];

// Node 20 and 22 unregister a terminated worker's isolate from the platform
// before they dispose it; a TurboFan job still compiling for that isolate
// on a background thread may then ask the platform for its task runner, and
// Node aborts (NodePlatform::ForIsolate, "Assertion failed: (data.first) !=
// nullptr", from IncrementalMarkingJob::ScheduleTask; 2 runs of this test in
// 27 on Node 20.20.2, none of our frames involved). Node 24 disposes first
// (MultiIsolatePlatform::DisposeIsolate). --no-concurrent-recompilation
// compiles on the worker's own thread, so no job outlives it.
const nodeMajor = Number(process.versions.node.split('.')[0]);
const nodeArgs = nodeMajor < 24 ? ['--no-concurrent-recompilation'] : [];

interface Summary {
  seed: number;
  early: number;
  afterReady: number;
  counts: Record<string, number>;
  errors: string[];
  ms: number;
}

test(`${workers} workers terminated at random moments of heavy activity: exit 0`, async (t) => {
  // A whole run takes 15-30 s on the loaded 2-core machine, 2-4x that under ASan.
  t.timeout(600_000);
  const args = [String(workers), ...(seed === undefined ? [] : [seed])];
  const result = await runFixture('terminate-stress-main.js', args, {
    timeoutMs: 540_000,
    nodeArgs,
  });
  const lines = jsonLines(result.stdout);
  const summary = lines.find((line) => 'counts' in line) as Summary | undefined;
  const context =
    `seed ${String(summary?.seed ?? lines[0]?.['seed'])}; ` +
    `stdout: ${result.stdout.slice(-2000)}; stderr: ${result.stderr.slice(-4000)}`;
  t.false(result.timedOut, `the child ran past its timeout; ${context}`);
  t.is(result.signal, null, `the child died by a signal; ${context}`);
  t.is(result.code, 0, context);
  if (summary === undefined) return t.fail(`no summary; ${context}`);
  t.deepEqual(summary.errors, [], 'no worker failed before it was terminated');
  // The terminations landed in every phase and during every kind of activity.
  t.true(summary.early > 0 && summary.afterReady > 0, context);
  const idle = kinds.filter((kind) => !(summary.counts[kind]! > 0));
  t.deepEqual(idle, [], `kinds of activity that never ran; ${context}`);
  t.log(`${workers} workers in ${summary.ms} ms, seed ${summary.seed}`);
});
