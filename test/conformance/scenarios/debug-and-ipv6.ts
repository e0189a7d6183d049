// Debug mode's slow-callback report (test_base_events.py:
// test_log_slow_callbacks) and datagram endpoints over IPv6
// (test_events.py: test_create_datagram_endpoint_ipv6).
import { MyDatagramProto } from '../protocols.js';
import { hasIPv6 } from '../peers.js';
import { type MakeLoop, type Test, future, testIf, until, withLoop, within } from '../harness.js';

export function debugAndIpv6(test: Test, makeLoop: MakeLoop, name: string): void {
  // console.warn is replaced for the test's duration: serial.
  test.serial(
    `${name}: in debug mode a callback that runs 0.1 s or longer is reported by name`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const warnings: string[] = [];
        const original = console.warn;
        console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(' '));
        try {
          const done = future();
          loop.callSoon(function quickCallback() {});
          loop.setDebug(true);
          loop.callSoon(function slowCallback() {
            const until = performance.now() + 120;
            while (performance.now() < until);
          });
          loop.callSoon(done.resolve);
          await within(done.promise, 'callbacks');
          loop.setDebug(false);
          loop.callSoon(function slowButNotDebug() {
            const until = performance.now() + 120;
            while (performance.now() < until);
          });
          await new Promise<void>((resolve) => loop.callSoon(resolve));
        } finally {
          console.warn = original;
        }
        const reports = warnings.filter((w) => /took \d+\.\d+ seconds/.test(w));
        t.is(reports.length, 1, reports.join('\n'));
        t.regex(
          reports[0] ?? '',
          /slowCallback took 0\.1[2-9]\d|slowCallback took 0\.[2-9]\d\d|slowCallback took [1-9]/,
        );
      }),
  );

  if (hasIPv6()) {
    testIf(
      test,
      makeLoop,
      'datagram',
      `${name}: datagram endpoints on ::1: sockname, peername and addresses are IPv6`,
      (t) =>
        withLoop(t, makeLoop, async ({ loop }) => {
          const [server, serverProto] = await loop.createDatagramEndpoint(
            () => new MyDatagramProto(),
            { localAddr: ['::1', 0] },
          );
          const [host, port] = server.getExtraInfo('sockname') as [string, number];
          t.is(host, '::1');
          t.true(port > 0);
          const [client, clientProto] = await loop.createDatagramEndpoint(
            () => new MyDatagramProto(),
            { remoteAddr: ['::1', port] },
          );
          t.deepEqual(client.getExtraInfo('peername'), ['::1', port]);
          client.sendto('over v6');
          await until(() => serverProto.datagrams.length === 1, 'the datagram');
          const [data, from] = serverProto.datagrams[0]!;
          t.is(data.toString(), 'over v6');
          t.deepEqual(from, client.getExtraInfo('sockname'));
          server.sendto('back', from);
          await until(() => clientProto.datagrams.length === 1, 'the answer');
          t.deepEqual(clientProto.datagrams[0]![1], ['::1', port]);
          client.close();
          server.close();
          await within(Promise.all([clientProto.done, serverProto.done]), 'connectionLost');
          t.deepEqual([...clientProto.violations, ...serverProto.violations], []);
        }),
    );
  }
}
