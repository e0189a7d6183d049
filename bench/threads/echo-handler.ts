// The echo handler of the threaded-server benchmarks, in both shapes:
// protocolFactory() for startThreadedServer and serveSocket() for node:net
// in cluster's workers. Each chunk costs burn() (cpu-work.ts), then goes back.
import type { Socket } from 'node:net';
import type { Protocol, Transport } from 'asyncuv';
import { burn } from './cpu-work.js';

export function protocolFactory(): Protocol {
  let transport: Transport;
  return {
    connectionMade(t: Transport) {
      transport = t;
    },
    dataReceived(data: Buffer) {
      burn(data);
      transport.write(data);
    },
  };
}

export function serveSocket(socket: Socket): void {
  socket.on('data', (data: Buffer) => {
    burn(data);
    socket.write(data);
  });
  socket.on('error', () => socket.destroy());
}
