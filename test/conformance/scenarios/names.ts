// Name resolution on the loop (test_events.py / test_base_events.py:
// getaddrinfo, getnameinfo).
import { type MakeLoop, type Test, withLoop, within } from '../harness.js';

export function names(test: Test, makeLoop: MakeLoop, name: string): void {
  test(`${name}: getaddrinfo resolves localhost with the port, filtered by family`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const all = await within(loop.getaddrinfo('localhost', 80), 'getaddrinfo');
      t.true(all.length > 0);
      t.true(all.some((a) => a.address === '127.0.0.1' && a.family === 4));
      t.true(all.every((a) => a.port === 80));
      const v4 = await within(loop.getaddrinfo('localhost', 80, { family: 4 }), 'getaddrinfo v4');
      t.true(v4.length > 0);
      t.true(v4.every((a) => a.family === 4));
      const literal = await within(loop.getaddrinfo('127.0.0.1', null), 'getaddrinfo literal');
      t.is(literal[0]?.address, '127.0.0.1');
    }));

  test(`${name}: getaddrinfo of a name that cannot exist rejects with a resolver error`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const err = await t.throwsAsync(
        within(loop.getaddrinfo('no-such-host.invalid', 80), 'getaddrinfo', 10000),
      );
      // NXDOMAIN, or no resolver reachable in an offline sandbox.
      t.true(
        ['EAI_NONAME', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA'].includes(
          (err as Error & { code: string }).code,
        ),
        String(err),
      );
    }));

  test(`${name}: getnameinfo gives [host, service]`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const [host, service] = await within(loop.getnameinfo('127.0.0.1', 80), 'getnameinfo');
      t.is(typeof host, 'string');
      t.true(host.length > 0);
      t.true(service === 'http' || service === '80', service);
    }));

  test(`${name}: a closed loop refuses name lookups`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      loop.close();
      await t.throwsAsync(async () => loop.getaddrinfo('localhost', 80), {
        code: 'ERR_LOOP_CLOSED',
      });
    }));
}
