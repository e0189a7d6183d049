// TCP echo under real load: the native load generator (a C epoll client
// the build makes) drives an asyncuv TCP server, then a node:net server.
import { pingPong } from '../../bench/loadgen/echo-client.js';
import { startNodeEchoServer, startUvEchoServer } from '../../bench/loadgen/echo-servers.js';
import type { TourStep } from './step.js';

export const tcpEcho: TourStep = {
  title: 'TCP echo, 50 connections, 1 KiB ping-pong (native load generator)',
  async run(ctx) {
    ctx.progress('TCP echo: asyncuv server');
    const ours = startUvEchoServer();
    const a = await pingPong({ port: ours.port, conns: 50, seconds: 1, warmup: 0.2 });
    await ours.close();
    ctx.progress('TCP echo: node:net server');
    const theirs = await startNodeEchoServer();
    const b = await pingPong({ port: theirs.port, conns: 50, seconds: 1, warmup: 0.2 });
    await theirs.close();
    return [
      `asyncuv TCP handle:  ${Math.round(a.rate).toLocaleString('en')} round trips/s (${a.errors} errors)`,
      `node:net:            ${Math.round(b.rate).toLocaleString('en')} round trips/s (${b.errors} errors)`,
      `ratio ${(a.rate / b.rate).toFixed(2)}x (one short run on a shared machine; npm run bench for more)`,
    ];
  },
};
