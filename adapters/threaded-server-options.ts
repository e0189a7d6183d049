// startThreadedServer's arguments, checked in the calling thread so that bad
// input fails there, with a UsageError, before any thread starts.
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import tls from 'node:tls';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../errors/usage-error.js';
import { invalidArgType, validateInteger, validateString } from '../errors/validate.js';
import type { TlsOptions } from '../loop/events.js';
import type { Balance } from './threaded-server-messages.js';

export interface ThreadedServerOptions {
  /**
   * An IP address or a name; a name is resolved once, and its first address
   * is served (as node:net does).
   */
  host: string;
  /** 0 picks a free port, the same for every thread. */
  port: number;
  /** How many threads serve; default: the number of cores (os.availableParallelism()). */
  threads?: number;
  /**
   * The listen backlog (of each thread's socket with 'reuseport'); default
   * createServer's, 100, for a protocolFactory, and serveHttp's, 511 (as
   * node:http), for a requestListener.
   */
  backlog?: number;
  /**
   * TLS on every thread: node:tls options (key, cert, ca, ... as strings or
   * Buffers). They are structured-cloned to each thread, where one
   * SecureContext is made per thread; a SecureContext or a function
   * (SNICallback) cannot cross threads and is refused.
   */
  ssl?: TlsOptions;
  /**
   * Handed to every thread's setup(): structured-cloned like postMessage, so
   * SharedArrayBuffers are shared and sync primitives' handles (mutex.handle)
   * rebuild the same primitive with Mutex.from().
   */
  shared?: unknown;
  /** 'reuseport' (Linux's SO_REUSEPORT, the default there) or 'shared-socket' (elsewhere). */
  balance?: Balance;
}

export interface CheckedOptions {
  moduleUrl: string;
  host: string;
  port: number;
  threads: number;
  backlog: number | undefined;
  ssl: TlsOptions | undefined;
  shared: unknown;
  balance: Balance;
}

// Where the kernel spreads connections over SO_REUSEPORT sockets (FreeBSD
// needs SO_REUSEPORT_LB; macOS does not balance them).
const reusePortBalances = process.platform === 'linux';

/** What a worker can import: a URL, a file: or data: URL string, or an absolute path. */
function moduleHref(moduleUrl: unknown): string {
  if (moduleUrl instanceof URL) return moduleUrl.href;
  validateString(moduleUrl, 'moduleUrl');
  if (/^(file|data):/.test(moduleUrl)) return new URL(moduleUrl).href;
  if (isAbsolute(moduleUrl)) return pathToFileURL(moduleUrl).href;
  throw new UsageError(
    'ERR_INVALID_ARG_VALUE',
    "moduleUrl must be a URL (new URL('./server.js', import.meta.url)), a file: URL or an " +
      "absolute path; a relative path or package name would resolve from asyncuv's own folder. " +
      `Received ${JSON.stringify(moduleUrl)}`,
  );
}

function checkSsl(ssl: unknown): TlsOptions | undefined {
  if (ssl === undefined) return undefined;
  if (typeof ssl !== 'object' || ssl === null) {
    throw invalidArgType('opts.ssl', 'an object of node:tls options', ssl);
  }
  if ('secureContext' in ssl) {
    throw new UsageError(
      'ERR_INVALID_ARG_VALUE',
      'opts.ssl.secureContext cannot reach the threads (a SecureContext is not ' +
        'structured-cloneable): pass key, cert, ca... instead',
    );
  }
  try {
    structuredClone(ssl);
  } catch (err) {
    throw new UsageError(
      'ERR_INVALID_ARG_VALUE',
      'opts.ssl must be structured-cloneable to reach the threads (strings, Buffers, plain ' +
        `objects; no functions such as SNICallback): ${(err as Error).message}`,
    );
  }
  // Bad keys and certificates fail here, once, rather than in every thread.
  tls.createSecureContext(ssl as tls.SecureContextOptions);
  return ssl as TlsOptions;
}

export function checkOptions(moduleUrl: unknown, opts: unknown): CheckedOptions {
  const href = moduleHref(moduleUrl);
  if (typeof opts !== 'object' || opts === null) throw invalidArgType('opts', 'an object', opts);
  const o = opts as Partial<ThreadedServerOptions>;
  validateString(o.host, 'opts.host');
  validateInteger(o.port, 'opts.port', 0, 65535);
  const threads = o.threads ?? availableParallelism();
  validateInteger(threads, 'opts.threads', 1, 1024);
  if (o.backlog !== undefined) validateInteger(o.backlog, 'opts.backlog', 0, 65535);
  const balance = o.balance ?? (reusePortBalances ? 'reuseport' : 'shared-socket');
  if (balance !== 'reuseport' && balance !== 'shared-socket') {
    throw new UsageError(
      'ERR_INVALID_ARG_VALUE',
      `opts.balance must be 'reuseport' or 'shared-socket'. Received ${String(balance)}`,
    );
  }
  if (balance === 'reuseport' && !reusePortBalances) {
    throw new UsageError(
      'ERR_NOT_SUPPORTED',
      `SO_REUSEPORT does not balance connections on ${process.platform}: ` +
        "use balance 'shared-socket'",
    );
  }
  try {
    structuredClone(o.shared);
  } catch (err) {
    throw new UsageError(
      'ERR_INVALID_ARG_VALUE',
      `opts.shared must be structured-cloneable (as for postMessage): ${(err as Error).message}`,
    );
  }
  const ssl = checkSsl(o.ssl);
  const { host, port, backlog, shared } = o;
  return { moduleUrl: href, host, port, threads, backlog, ssl, shared, balance };
}
