// An http.Agent whose connections are transports of an asyncuv loop: its
// createConnection(options, cb) connects on the loop and hands node:http
// toDuplex(transport), so node:http's client (and got, or anything that
// takes an Agent) runs over the loop, keep-alive included.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { toDuplex, type AbstractEventLoop } from 'asyncuv';

export class LoopAgent extends http.Agent {
  constructor(
    readonly loop: AbstractEventLoop,
    options: http.AgentOptions,
  ) {
    super(options);
  }

  override createConnection(
    options: http.ClientRequestArgs,
    oncreate?: (err: Error | null, stream: Duplex) => void,
  ): undefined {
    this.loop
      .createConnection(() => ({}), options.host ?? '127.0.0.1', Number(options.port))
      .then(
        ([transport]) => oncreate?.(null, toDuplex(transport)),
        (err: Error) => oncreate?.(err, undefined as never),
      );
    return undefined;
  }
}
