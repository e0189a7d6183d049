// The conformance suite on NodeEventLoop (adapters/): the same scenarios as
// uv.test.ts, on Node's own net, dgram, child_process and timers.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { NodeEventLoop, type AbstractEventLoop } from 'asyncuv';
import type { LoopFixture, MakeLoop } from './harness.js';
import { scenarios } from './scenarios/index.js';

const makeLoop: MakeLoop = Object.assign(
  (): LoopFixture => {
    const nodeLoop = new NodeEventLoop();
    return {
      loop: nodeLoop as unknown as AbstractEventLoop,
      async settle(t) {
        // Node closes sockets, servers and children in later callbacks.
        for (let i = 0; i < 400 && Object.keys(nodeLoop.liveResources()).length > 0; i++) await sleep(5);
        t.deepEqual(nodeLoop.liveResources(), {}, 'no transport, server, timer or child left on the loop');
      },
    };
  },
  {
    // Node's modules have no way to watch an arbitrary fd: NodeEventLoop
    // throws ERR_NOT_SUPPORTED from addReader/addWriter.
    unsupported: {
      addReader: 'Node cannot watch an arbitrary fd (addReader/addWriter throw ERR_NOT_SUPPORTED)',
      reusePort: 'net.Server has no SO_REUSEPORT on Node 20 (createServer throws ERR_NOT_SUPPORTED)',
    },
  },
);

for (const scenario of scenarios) scenario(test, makeLoop, 'node');
