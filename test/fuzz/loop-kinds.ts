// The two AbstractEventLoop implementations, each with its leak check, for
// the loop-layer fuzz tests.
import type { ExecutionContext } from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { Loop } from '../../handles/loop.js';
import { UvEventLoop } from '../../loop/uv-event-loop.js';
import { NodeEventLoop } from '../../adapters/node-event-loop.js';
import type { AbstractEventLoop } from '../../loop/events.js';

export interface LoopKind {
  name: 'uv' | 'node';
  make(): {
    loop: AbstractEventLoop & { close(): void };
    settle(t: ExecutionContext): Promise<void>;
  };
}

export const loopKinds: LoopKind[] = [
  {
    name: 'uv',
    make() {
      const uvloop = new Loop();
      const loop = new UvEventLoop(uvloop);
      return {
        loop,
        async settle(t) {
          // Before close(), which would release what a case left open.
          if (!loop.isClosed()) {
            for (let i = 0; i < 400 && Object.keys(loop.liveResources()).length > 0; i++)
              await sleep(5);
            t.deepEqual(loop.liveResources(), {}, 'the case closed everything it opened');
            loop.close();
          }
          for (let i = 0; i < 400 && Object.keys(uvloop.handleCounts()).length > 0; i++)
            await sleep(5);
          try {
            t.deepEqual(uvloop.handleCounts(), {}, 'no libuv handle left on the loop');
          } finally {
            uvloop.close();
          }
        },
      };
    },
  },
  {
    name: 'node',
    make() {
      const nodeLoop = new NodeEventLoop();
      const loop = nodeLoop;
      return {
        loop,
        async settle(t) {
          // Before close(), which would release what a case left open.
          if (!loop.isClosed()) {
            for (let i = 0; i < 400 && Object.keys(loop.liveResources()).length > 0; i++)
              await sleep(5);
            t.deepEqual(loop.liveResources(), {}, 'the case closed everything it opened');
            loop.close();
          }
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
  },
];
