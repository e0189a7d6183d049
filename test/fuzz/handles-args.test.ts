// Every public method of every handle class, called once with plausible and
// wrong-typed arguments, on an open or an already closed handle: each call
// returns or throws a typed error, and no handle outlives the test.
import test from 'ava';
import fc from 'fast-check';
import type { Handle } from '../../handles/handle.js';
import { loopTest } from '../helpers/loop-test.js';
import { attempt, check, show, totalLine } from './arbitraries.js';
import {
  closeEnv,
  handleMethods,
  makeEnv,
  mayReturnWhenClosed,
  resolve,
  type Env,
  type MethodSpec,
} from './handle-specs.js';
import { makers } from './handle-makers.js';
import { boundUdpFd } from '../helpers/socket-fd.js';

const { fd: pollFd, close: closePollFd } = boundUdpFd();
test.after.always(() => {
  closePollFd();
  console.log(totalLine('handles-args'));
});

let sockSeq = 0;

for (const maker of makers(pollFd)) {
  loopTest(
    `${maker.name}: every method with any arguments, open or closed, returns or throws a typed error`,
    async (t, loop) => {
      const env = makeEnv(loop);
      const envRef = (): Env => env;
      const specs: MethodSpec[] = [...maker.methods(envRef), ...handleMethods];
      const call = fc.oneof(
        ...specs.map((spec) =>
          fc.record({ spec: fc.constant(spec), args: fc.tuple(...spec.args) }),
        ),
      );
      try {
        await check(
          t,
          `${maker.name} args`,
          fc.property(call, fc.boolean(), ({ spec, args }, closedFirst) => {
            const fresh: Handle[] = [];
            const h = maker.make(env);
            try {
              if (closedFirst) h.close();
              const real = args.map((a) =>
                resolve(a, env, fresh, () => `${env.dir}/s${sockSeq++}`),
              );
              const what = `${maker.name}${closedFirst ? '(closed)' : ''}.${spec.name}(${args.map(show).join(', ')})`;
              let returned = false;
              attempt(what, () => {
                spec.call(h as unknown as Record<string, unknown>, real);
                returned = true;
              });
              // A closed handle does nothing silently: only no-ops and queries return.
              if (closedFirst && returned && !mayReturnWhenClosed(spec))
                throw new Error(`${what} returned on a closed handle`);
            } finally {
              h.close();
              maker.cleanup?.(h);
              for (const f of fresh) f.close();
            }
          }),
          40,
        );
      } finally {
        closeEnv(env);
      }
    },
  );
}
