// `npm start`: a short tour of asyncuv. Runs each step of tour/steps.ts in
// order with a one-line progress display on stderr, prints a report, checks
// that no handle was left open, and exits by itself.
import { Loop } from '../handles/index.js';
import { steps } from './tour/steps.js';

// About 6 s on a quiet machine; generous, since the test suite runs the tour
// beside many other processes on two cores.
const WATCHDOG_MS = 45_000;

let shown = 0;
// The step running and its last progress message, for the watchdog.
let current = 'starting';
function progress(message: string): void {
  if (message !== '') current = message;
  if (!process.stderr.isTTY) return; // keep logs and pipes clean
  process.stderr.write(`\r${message.padEnd(shown)}`);
  shown = message.length;
}

const report: string[] = [];

// If a step ever hangs, say so and fail instead of running forever. Unref'd:
// it must not be what keeps the tour alive.
setTimeout(() => {
  console.error(`\ntour: still running after ${WATCHDOG_MS} ms, giving up in: ${current}`);
  if (report.length > 0) console.error(`steps done:\n${report.join('\n')}`);
  process.exit(1);
}, WATCHDOG_MS).unref();

const started = performance.now();
for (const [i, step] of steps.entries()) {
  const prefix = `[${i + 1}/${steps.length}] `;
  progress(`${prefix}${step.title}`);
  const t0 = performance.now();
  const lines = await step.run({ progress: (m) => progress(`${prefix}${m}`) });
  report.push(
    `${step.title} (${Math.round(performance.now() - t0)} ms)`,
    ...lines.map((l) => `  ${l}`),
  );
}
progress('');
if (process.stderr.isTTY) process.stderr.write('\r');

console.log('asyncuv tour\n');
console.log(report.join('\n'));
// Close callbacks run on a later batch of the loop: give them a moment.
const settleBy = performance.now() + 2000;
while (Object.keys(Loop.default().handleCounts()).length > 0 && performance.now() < settleBy) {
  await new Promise((r) => setTimeout(r, 5));
}
const left = Loop.default().handleCounts();
console.log(
  `\nhandles left open: ${Object.keys(left).length === 0 ? 'none' : JSON.stringify(left)}`,
);
console.log(`done in ${Math.round(performance.now() - started)} ms; exiting by itself`);
if (Object.keys(left).length !== 0) process.exitCode = 1;
