// What the server tells clients about itself: INFO's sections and HELLO's
// map. Clients read them on connect (ioredis sends INFO and waits while
// `loading` is not 0; HELLO names the protocol), so they must be there,
// in Redis's format, even for a small example server.
import { arch, platform, release } from 'node:os';
import type { Store } from './store.js';

/** The Redis version whose command semantics this server follows. */
export const REDIS_VERSION = '7.0.0';

/** Server-wide counters every connection's protocol shares. */
export class ServerState {
  readonly startedAt = Date.now();
  /** Connections open now. */
  clients = 0;
  #lastId = 0;

  /** A new connection's id (CLIENT ID, HELLO's `id`): 1, 2, 3, ... */
  nextClientId(): number {
    return ++this.#lastId;
  }
}

/**
 * INFO's text (a bulk string of `field:value` lines under `# Section`
 * headings, CRLF-separated). `section` selects one (case-insensitive);
 * none, 'default', 'all' or 'everything' give them all, an unknown one gives
 * nothing, as in Redis.
 */
export function infoText(state: ServerState, store: Store, port: number, section?: string): string {
  const sections: Record<string, string[]> = {
    server: [
      `redis_version:${REDIS_VERSION}`,
      'redis_mode:standalone',
      `os:${platform()} ${release()} ${arch()}`,
      `process_id:${process.pid}`,
      `tcp_port:${port}`,
      `uptime_in_seconds:${Math.floor((Date.now() - state.startedAt) / 1000)}`,
      'executable:asyncuv examples/resp-server',
    ],
    clients: [`connected_clients:${state.clients}`],
    persistence: ['loading:0'],
    replication: ['role:master', 'connected_slaves:0'],
    // Redis lists a database only when it has keys.
    keyspace: store.size > 0 ? [`db0:keys=${store.size},expires=${store.expiring},avg_ttl=0`] : [],
  };
  const wanted = section?.toLowerCase() ?? 'default';
  const all = ['default', 'all', 'everything'].includes(wanted);
  const names = all ? Object.keys(sections) : [wanted];
  const parts = names
    .filter((name) => sections[name] !== undefined)
    .map((name) => [`# ${name[0]!.toUpperCase()}${name.slice(1)}`, ...sections[name]!])
    .map((lines) => lines.join('\r\n'));
  return parts.length === 0 ? '' : `${parts.join('\r\n\r\n')}\r\n`;
}
