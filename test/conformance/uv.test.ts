// The conformance suite on UvEventLoop, one private libuv loop per test.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { Loop, UvEventLoop } from 'asyncuv';
import { kNative } from '../../handles/internal.js';
import type { LoopFixture } from './harness.js';
import { scenarios } from './scenarios/index.js';

function makeLoop(): LoopFixture {
  const uvloop = new Loop();
  const loop = new UvEventLoop(uvloop);
  return {
    loop,
    describe: () =>
      `handles ${JSON.stringify(uvloop.handleCounts())}, driver ${JSON.stringify(uvloop[kNative].driverState())}`,
    async settle(t) {
      // Close callbacks run in later batches of the libuv loop.
      for (let i = 0; i < 400 && Object.keys(uvloop.handleCounts()).length > 0; i++) await sleep(5);
      try {
        t.deepEqual(uvloop.handleCounts(), {}, 'no libuv handle left on the loop');
      } finally {
        // Closes whatever leaked, so one failing test cannot keep the
        // process alive.
        uvloop.close();
      }
    },
  };
}

for (const scenario of scenarios) scenario(test, makeLoop, 'uv');
