// A fixed number of keep-alive HTTP/1.1 GETs over raw node:net sockets, as
// a child process: the load of the `httpn` workload (bench/profile), whose
// instruction counts need a request count that does not depend on how
// fast the server runs (wrk runs for a time). Each connection sends its
// next request once the whole previous response is in (Content-Length).
//
//   node dist/bench/loadgen/http-client.js <port> <connections> <requests>
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

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const [port, conns, requests] = process.argv.slice(2).map(Number);
  await httpRequests(port!, conns!, requests!);
}
