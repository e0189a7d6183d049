// The conformance suite on NodeEventLoop (adapters/): the same scenarios as
// uv.test.ts, on Node's own net, dgram, child_process and timers.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { NodeEventLoop } from 'asyncuv';
import type { LoopFixture, MakeLoop } from './harness.js';
import { scenarios } from './scenarios/index.js';

const makeLoop: MakeLoop = Object.assign(
  (): LoopFixture => {
    const nodeLoop = new NodeEventLoop();
    return {
      loop: nodeLoop,
      async settle(t) {
        // Node closes sockets, servers and children in later callbacks.
        for (let i = 0; i < 400 && Object.keys(nodeLoop.liveResources()).length > 0; i++)
          await sleep(5);
        t.deepEqual(
          nodeLoop.liveResources(),
          {},
          'no transport, server, timer or child left on the loop',
        );
      },
    };
  },
  { unsupported: {} },
);

for (const scenario of scenarios) scenario(test, makeLoop, 'node');
