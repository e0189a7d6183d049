// Socket fds for tests that hand a raw fd to something (Poll, the rel
// facade, fs.sendfile). Node keeps the fds of its own sockets private, so
// these come from asyncuv's handles on a private loop of their own that never
// reads them: no epoll of the loop under test holds them. close() closes
// that loop, and the socket with it. The handle is idle, and an idle handle
// nothing refers to is closed by the GC: close() refers to it, so the fd
// lives as long as the caller keeps close().
import { Loop, TCP, UDP } from 'asyncuv';

export interface SocketFd {
  fd: number;
  close(): void;
}

function closeBoth(handle: TCP | UDP, loop: Loop): void {
  handle.close();
  loop.close();
}

/** A UDP socket bound to an ephemeral port on 127.0.0.1. */
export function boundUdpFd(): SocketFd {
  const loop = new Loop();
  const udp = new UDP(loop);
  udp.bind('127.0.0.1', 0);
  return { fd: udp.fileno(), close: () => closeBoth(udp, loop) };
}

/** A TCP socket connected to `host`:`port`. */
export async function connectedTcpFd(port: number, host = '127.0.0.1'): Promise<SocketFd> {
  const loop = new Loop();
  const tcp = new TCP(loop);
  try {
    await new Promise<void>((resolve, reject) =>
      tcp.connect(host, port, (err) => (err === null ? resolve() : reject(err))),
    );
  } catch (err) {
    loop.close();
    throw err;
  }
  return { fd: tcp.fileno(), close: () => closeBoth(tcp, loop) };
}
