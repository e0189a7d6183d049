// A fixed number of keep-alive HTTP/1.1 GETs over raw node:net sockets, as
// a child process: the load of the `httpn` workload (bench/profile), whose
// instruction counts need a request count that does not depend on how
// fast the server runs (wrk runs for a time). Each connection sends its
// next request once the whole previous response is in (Content-Length).
// With `close`, every request has a connection of its own (`Connection:
// close`): C connections at a time, each opened once the previous one's
// response and the server's EOF are in.
//
//   node dist/bench/loadgen/http-client.js <port> <connections> <requests> [close]
import net from 'node:net';
import { pathToFileURL } from 'node:url';

const kRequest = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');

/** Resolves once `requests` responses came back over `conns` connections. */
export function httpRequests(port: number, conns: number, requests: number): Promise<void> {
  let sent = 0;
  let answered = 0;
  return new Promise((resolve, reject) => {
    const open = (): void => {
      const socket = net.connect(port, '127.0.0.1');
      let pending: Buffer = Buffer.alloc(0);
      const next = (): void => {
        if (sent === requests) {
          socket.end();
          return;
        }
        sent++;
        socket.write(kRequest);
      };
      socket.on('connect', next);
      socket.on('error', reject);
      socket.on('data', (data: Buffer) => {
        pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
        for (;;) {
          const end = pending.indexOf('\r\n\r\n');
          if (end < 0) return;
          const m = /content-length: (\d+)/i.exec(pending.toString('latin1', 0, end));
          if (m === null) return reject(new Error('a response without Content-Length'));
          const size = end + 4 + Number(m[1]);
          if (pending.length < size) return;
          pending = pending.subarray(size);
          if (++answered === requests) resolve();
          next();
        }
      });
    };
    for (let i = 0; i < conns; i++) open();
  });
}

const kCloseRequest = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');

/** Resolves once `requests` connections, `conns` at a time, each sent a request and saw EOF. */
export function httpCloseRequests(port: number, conns: number, requests: number): Promise<void> {
  let opened = 0;
  let done = 0;
  return new Promise((resolve, reject) => {
    const open = (): void => {
      if (opened === requests) return;
      opened++;
      const socket = net.connect(port, '127.0.0.1', () => socket.write(kCloseRequest));
      let bytes = 0;
      socket.on('error', reject);
      socket.on('data', (data: Buffer) => (bytes += data.length));
      socket.on('end', () => {
        if (bytes === 0) return reject(new Error('a connection closed without a response'));
        if (++done === requests) resolve();
        else open();
      });
    };
    for (let i = 0; i < conns; i++) open();
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const [port, conns, requests] = process.argv.slice(2, 5).map(Number);
  if (process.argv[5] === 'close') await httpCloseRequests(port!, conns!, requests!);
  else await httpRequests(port!, conns!, requests!);
}
