// The conformance suite on NodeEventLoop (adapters/): the same scenarios as
// uv.test.ts, on Node's own net, dgram, child_process and timers.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { NodeEventLoop } from 'asyncuv';
import type { LoopFixture, MakeLoop } from './harness.js';
import { scenarios } from './scenarios/index.js';

function listenHasReusePort(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}

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
  {
    // net's listen({ reusePort }) exists from Node 22.12 on; before that
    // NodeEventLoop's createServer throws ERR_NOT_SUPPORTED for it.
    unsupported: listenHasReusePort()
      ? {}
      : {
          reusePort:
            `net.Server has no SO_REUSEPORT before Node 22.12 (this is ${process.version}; ` +
            'createServer throws ERR_NOT_SUPPORTED)',
        },
  },
);

for (const scenario of scenarios) scenario(test, makeLoop, 'node');
