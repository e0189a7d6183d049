// Which loop the stream functions use when given none: the running loop,
// else one shared default loop (made once, remade only after it is closed),
// so that calls outside a running loop do not each leave a loop behind.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Loop,
  openConnection,
  startServer,
  type Server,
  type StreamReader,
  type StreamWriter,
} from 'asyncuv';

function portOf(server: Server): number {
  return (server.sockets()[0] as { port: number }).port;
}

test('outside a running loop, every call shares one default loop until it is closed', async (t) => {
  const echo = async (reader: StreamReader, writer: StreamWriter): Promise<void> => {
    writer.write(await reader.readline());
    writer.close();
  };
  const first = await startServer(echo, '127.0.0.1', 0);
  const second = await startServer(echo, '127.0.0.1', 0);
  const shared = first.getLoop();
  t.is(second.getLoop(), shared);
  t.false(shared.isRunning());

  const { reader, writer } = await openConnection('127.0.0.1', portOf(first));
  writer.write('via the default loop\n');
  t.is((await reader.readline()).toString(), 'via the default loop\n');
  writer.close();
  await writer.waitClosed();
  first.close();
  second.close();
  await Promise.all([first.waitClosed(), second.waitClosed()]);

  shared.close();
  const third = await startServer(echo, '127.0.0.1', 0);
  t.not(third.getLoop(), shared, 'a closed default loop is replaced');
  third.close();
  await third.waitClosed();
  third.getLoop().close();

  // The default loops ran on this thread's default libuv loop: nothing left.
  const uvloop = Loop.default();
  for (let i = 0; i < 400 && Object.keys(uvloop.handleCounts()).length > 0; i++) await sleep(5);
  t.deepEqual(uvloop.handleCounts(), {});
});
