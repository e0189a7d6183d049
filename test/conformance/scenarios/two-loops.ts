// Two loops at once in one thread: each runs its own callbacks, and a
// callback it schedules sees it as the running loop (asyncio has one
// running loop per thread; here runForever does not block, so several can
// be running). I/O callbacks are not checked: which loop getRunningLoop()
// names inside them is only defined while one loop runs at a time.
import { getRunningLoop, type AbstractEventLoop, type Protocol, type Transport } from 'asyncuv';
import { type MakeLoop, type Test, future, withLoop, within } from '../harness.js';

export function twoLoops(test: Test, makeLoop: MakeLoop, name: string): void {
  test(`${name}: a server on one loop and its client on another, both running, scheduled callbacks see their own loop`, (t) =>
    withLoop(t, makeLoop, ({ loop: serverLoop }) =>
      withLoop(t, makeLoop, async ({ loop: clientLoop }) => {
        const seen: Array<[string, AbstractEventLoop | undefined]> = [];
        const serverLost = future();
        const clientLost = future();
        const server = await serverLoop.createServer(
          (): Protocol => {
            let tr: Transport;
            return {
              connectionMade(x) {
                tr = x;
              },
              dataReceived(d) {
                tr.write(d);
              },
              connectionLost: () => serverLost.resolve(),
            };
          },
          '127.0.0.1',
          0,
        );
        const serverRun = serverLoop.runForever();
        const clientRun = clientLoop.runForever();
        const echoed = future<string>();
        const [transport] = await clientLoop.createConnection(
          (): Protocol => ({
            dataReceived(d) {
              echoed.resolve(d.toString());
            },
            connectionLost: () => clientLost.resolve(),
          }),
          '127.0.0.1',
          (server.sockets()[0] as { port: number }).port,
        );
        const timers = future();
        serverLoop.callSoon(() => seen.push(['serverSoon', getRunningLoop()]));
        clientLoop.callLater(0.01, () => {
          seen.push(['clientLater', getRunningLoop()]);
          timers.resolve();
        });
        transport.write('across loops');
        t.is(await within(echoed.promise, 'echo'), 'across loops');
        await within(timers.promise, 'timer');
        const byName = new Map(seen.map(([k, l]) => [k, l]));
        t.is(byName.get('serverSoon'), serverLoop);
        t.is(byName.get('clientLater'), clientLoop);
        transport.close();
        server.close();
        await within(
          Promise.all([clientLost.promise, serverLost.promise, server.waitClosed()]),
          'both ends closed',
        );
        serverLoop.stop();
        clientLoop.stop();
        await within(Promise.all([serverRun, clientRun]), 'both loops stopped');
        t.false(serverLoop.isRunning());
        t.false(clientLoop.isRunning());
      }),
    ));
}
