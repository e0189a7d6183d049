// Every conformance scenario, in the order they register.
import type { Scenario } from '../harness.js';
import { addressEdges } from './address-edges.js';
import { baseEventsPort } from './base-events-port.js';
import { callbackErrors } from './callback-errors.js';
import { callbacks } from './callbacks.js';
import { cancellation } from './cancellation.js';
import { closeReleases } from './close-releases.js';
import { closedLoop } from './closed-loop.js';
import { connectionArgs } from './connection-args.js';
import { connectionMadeErrors } from './connection-made-errors.js';
import { datagram } from './datagram.js';
import { debugAndIpv6 } from './debug-and-ipv6.js';
import { dispose } from './dispose.js';
import { eventsPort } from './events-port.js';
import { exceptionHandler } from './exception-handler.js';
import { flowControl } from './flow-control.js';
import { handlesInBatch } from './handles-in-batch.js';
import { liveResources } from './live-resources.js';
import { loopEdges } from './loop-edges.js';
import { loopRuns } from './loop-runs.js';
import { names } from './names.js';
import { pipeEnds } from './pipe-ends.js';
import { pipes } from './pipes.js';
import { processLifecycle } from './process-lifecycle.js';
import { protocolErrors } from './protocol-errors.js';
import { readers } from './readers.js';
import { readingControl } from './reading-control.js';
import { runStop } from './run-stop.js';
import { serverLifecycle } from './server-lifecycle.js';
import { signals } from './signals.js';
import { sockOps } from './sock-ops.js';
import { sockPort } from './sock-port.js';
import { streamsPort } from './streams-port.js';
import { stopInCallback } from './stop-in-callback.js';
import { timers } from './timers.js';
import { tlsArguments } from './tls-arguments.js';
import { tlsHandshake } from './tls-handshake.js';
import { tlsPort } from './tls-port.js';
import { tlsShutdown } from './tls-shutdown.js';
import { tlsVerify } from './tls-verify.js';
import { streamEndings } from './stream-endings.js';
import { streams } from './streams.js';
import { streamReads } from './stream-reads.js';
import { subprocess } from './subprocess.js';
import { subprocessStreams } from './subprocess-streams.js';
import { subprocessEdges } from './subprocess-edges.js';
import { subprocessOptions } from './subprocess-options.js';
import { tcpConnection } from './tcp-connection.js';
import { tcpServer } from './tcp-server.js';
import { transportEdges } from './transport-edges.js';
import { asyncContext } from './async-context.js';
import { transportLifecycle } from './transport-lifecycle.js';
import { twoLoops } from './two-loops.js';
import { unix } from './unix.js';
import { unixEventsPort } from './unix-events-port.js';
import { unixPaths } from './unix-paths.js';
import { uvloopBasePort } from './uvloop-base-port.js';
import { uvloopPipesPort } from './uvloop-pipes-port.js';
import { uvloopProcessPort } from './uvloop-process-port.js';
import { uvloopSignalsPort } from './uvloop-signals-port.js';
import { writePath } from './write-path.js';
import { serverOptions } from './server-options.js';
import { uvloopTcpPort } from './uvloop-tcp-port.js';
import { uvloopUnixPort } from './uvloop-unix-port.js';
import { uvloopUdpPort } from './uvloop-udp-port.js';
import { uvloopDnsPort } from './uvloop-dns-port.js';

export const scenarios: Scenario[] = [
  runStop,
  loopRuns,
  stopInCallback,
  closedLoop,
  closeReleases,
  callbacks,
  timers,
  asyncContext,
  handlesInBatch,
  exceptionHandler,
  callbackErrors,
  protocolErrors,
  connectionMadeErrors,
  signals,
  tcpConnection,
  connectionArgs,
  tcpServer,
  serverLifecycle,
  dispose,
  tlsHandshake,
  tlsArguments,
  tlsPort,
  tlsShutdown,
  tlsVerify,
  transportLifecycle,
  transportEdges,
  readingControl,
  writePath,
  flowControl,
  streams,
  streamReads,
  streamEndings,
  cancellation,
  datagram,
  debugAndIpv6,
  unix,
  unixPaths,
  pipes,
  pipeEnds,
  subprocess,
  subprocessStreams,
  processLifecycle,
  subprocessEdges,
  subprocessOptions,
  readers,
  names,
  twoLoops,
  liveResources,
  loopEdges,
  addressEdges,
  sockOps,
  eventsPort,
  baseEventsPort,
  streamsPort,
  sockPort,
  serverOptions,
  uvloopTcpPort,
  uvloopUnixPort,
  uvloopUdpPort,
  uvloopDnsPort,
  unixEventsPort,
  uvloopBasePort,
  uvloopPipesPort,
  uvloopProcessPort,
  uvloopSignalsPort,
];
