// What both loops' datagram transports share (asyncio's DatagramTransport):
// sendto()'s checks, abort(), the write-buffer size, the protocol's type.
// What every transport shares is in transport-base.ts.
import { UsageError } from '../errors/usage-error.js';
import { invalidArgType, validateInteger } from '../errors/validate.js';
import type { Address, AnyProtocol, DatagramProtocol } from './protocols.js';
import { TransportBase, type TransportOptions } from './transport-base.js';
import type { DatagramExtraInfo, DatagramTransport } from './transports.js';

export interface DatagramTransportOptions extends TransportOptions<DatagramProtocol> {
  /** The connected peer, if any: sendto() goes there only. */
  remote: Address | undefined;
}

export abstract class DatagramTransportBase
  extends TransportBase<DatagramProtocol, DatagramExtraInfo>
  implements DatagramTransport
{
  readonly #remote: Address | undefined;

  protected constructor(opts: DatagramTransportOptions) {
    super({ ...opts, kind: 'datagram' });
    this.#remote = opts.remote;
  }

  /** Sends one datagram: to `addr`, or to the connected peer (undefined). */
  protected abstract send(bytes: Uint8Array, addr: Address | undefined): void;

  /** Sends one datagram; `addr` is required unless the endpoint is connected. */
  sendto(data: Uint8Array | string, addr?: Address): void {
    const bytes = this.toBytes(data, 'data');
    if (addr !== undefined) validateSendAddress(addr);
    const remote = this.#remote;
    if (remote === undefined && addr === undefined) {
      const why = 'sendto() needs an address on an unconnected endpoint';
      throw new UsageError('ERR_INVALID_ARG_VALUE', why);
    }
    if (remote !== undefined && addr !== undefined && !sameAddress(addr, remote)) {
      const why = `Invalid address: must be undefined or ${remote.join(':')}`;
      throw new UsageError('ERR_INVALID_ARG_VALUE', why);
    }
    if (this.lost || this.closing) return;
    this.send(bytes, remote === undefined ? addr : undefined);
  }

  /** Closes at once, dropping queued sends; connectionLost(null) follows. */
  abort(): void {
    this.forceClose(null);
  }

  getWriteBufferSize(): number {
    return this.bufferedBytes();
  }

  // The DatagramTransport contract extends BaseTransport, whose protocol
  // is a stream protocol: these two give a datagram protocol that type.

  override getProtocol(): DatagramProtocol & AnyProtocol {
    return super.getProtocol() as DatagramProtocol & AnyProtocol;
  }

  override setProtocol(protocol: DatagramProtocol | AnyProtocol): void {
    super.setProtocol(protocol as DatagramProtocol);
  }
}

function sameAddress(a: Address, b: Address): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

/**
 * A [host, port] pair with a port that fits 16 bits, or a usage error
 * thrown by sendto() on every loop (asyncio's sendto raises there too: a
 * TypeError or OverflowError, not an OSError for error_received). Whether
 * the host can be sent to is the socket's answer, given to errorReceived.
 */
function validateSendAddress(addr: unknown): void {
  if (!Array.isArray(addr) || addr.length !== 2 || typeof addr[0] !== 'string') {
    throw invalidArgType('addr', 'a [host, port] pair', addr);
  }
  validateInteger(addr[1], 'addr[1]', 0, 65535);
}
