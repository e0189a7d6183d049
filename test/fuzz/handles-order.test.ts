// Random sequences of calls on one live handle (start/stop/read/write/ref/
// unref/close... in any order, with the event loop turning in between),
// then close: every call returns or throws a typed error, the handle's
// state answers stay consistent, and no handle outlives the test.
import test from 'ava';
import fc from 'fast-check';
import { setImmediate as tick } from 'node:timers/promises';
import type { Handle } from '../../handles/handle.js';
import { loopTest } from '../helpers/loop-test.js';
import { attempt, check, show, totalLine } from './arbitraries.js';
import { closeEnv, handleMethods, makeEnv, mayReturnWhenClosed, resolve, type Env, type MethodSpec } from './handle-specs.js';
import { makers, nodeSocketFd } from './handle-makers.js';

const { socket, fd: pollFd } = await nodeSocketFd();
test.after.always(() => {
  socket.close();
  console.log(totalLine('handles-order'));
});

let sockSeq = 0;
const kTick = { name: 'tick' } as const;

for (const maker of makers(pollFd)) {
  loopTest(`${maker.name}: random call sequences keep every answer typed and consistent`, async (t, loop) => {
    const env = makeEnv(loop);
    const envRef = (): Env => env;
    const specs: MethodSpec[] = [...maker.methods(envRef), ...handleMethods];
    const call = fc.oneof(
      { weight: 6, arbitrary: fc.oneof(...specs.map((spec) => fc.record({ spec: fc.constant(spec), args: fc.tuple(...spec.args) }))) },
      { weight: 1, arbitrary: fc.constant(kTick) },
    );
    try {
      await check(
        t,
        `${maker.name} order`,
        fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 12 }), async (steps) => {
          const fresh: Handle[] = [];
          const h = maker.make(env);
          const log: string[] = [];
          try {
            for (const step of steps) {
              if (!('spec' in step)) {
                log.push('tick');
                await tick();
                continue;
              }
              const { spec, args } = step;
              const wasClosed = h.closed;
              const real = args.map((a) => resolve(a, env, fresh, () => `${env.dir}/o${sockSeq++}`));
              const what = `${maker.name}.${spec.name}(${args.map(show).join(', ')}) after [${log.join('; ')}]`;
              log.push(spec.name);
              let returned = false;
              attempt(what, () => {
                spec.call(h as unknown as Record<string, unknown>, real);
                returned = true;
              });
              if (wasClosed && returned && !mayReturnWhenClosed(spec)) throw new Error(`${what} returned on a closed handle`);
              // State queries agree with close(): a closed handle is neither active nor ref'd.
              if (h.closed && (h.active || h.hasRef())) throw new Error(`${what}: closed but active=${h.active} hasRef=${h.hasRef()}`);
            }
          } finally {
            h.close();
            maker.cleanup?.(h);
            for (const f of fresh) f.close();
          }
          if (!h.closed || h.active) throw new Error('close() left the handle open or active');
        }),
        20,
      );
    } finally {
      closeEnv(env);
    }
  });
}
