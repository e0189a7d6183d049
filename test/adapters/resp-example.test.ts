// The examples' RESP server, a Protocol written once, on both loops.
import test from 'ava';
import net from 'node:net';
import { makeLoop, startRespServer } from '../../examples/resp-server/main.js';
import { assertNoLeaks, resourceCounts } from './resources.js';

/** Sends `request` and resolves with the reply once it holds `want` CRLF-ended lines. */
function ask(port: number, request: string, want: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => socket.write(request));
    let got = '';
    socket.on('data', (d) => {
      got += d.toString();
      if (got.split('\r\n').length - 1 >= want) {
        socket.end();
        resolve(got);
      }
    });
    socket.on('error', reject);
  });
}

for (const kind of ['node', 'uv']) {
  test.serial(`the RESP server answers pipelined commands on the ${kind} loop`, async (t) => {
    const base = resourceCounts();
    const loop = makeLoop(kind);
    const server = await startRespServer(loop, '127.0.0.1', 0);
    const port = (server.sockets()[0] as { port: number }).port;
    const request =
      '*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv1\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n';
    t.is(await ask(port, request, 5), '+PONG\r\n+OK\r\n$2\r\nv1\r\n:1\r\n');
    server.close();
    await server.waitClosed();
    loop.close();
    await assertNoLeaks(t, base);
  });
}
