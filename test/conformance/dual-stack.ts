// Host names that resolve to both ::1 and 127.0.0.1, for the rules that
// pick an address of one family among a name's (createConnection's
// localAddr, createDatagramEndpoint's pairing and family=).
//
// A real name cannot be relied on: the sandbox this suite runs in maps
// localhost to 127.0.0.1 only in /etc/hosts (stock Debian adds ::1), and
// no name has both families everywhere; with one family, a case passes
// whether the rule is there or not. So the loop's
// resolver answers these two names itself (CPython's
// test_create_connection_local_addr_skip_different_family replaces
// loop.getaddrinfo the same way). Everything else is real: every other
// name goes to the loop's own resolver, and the sockets bound and
// connected are the loop's.
import type { AbstractEventLoop } from 'asyncuv';

/** ::1 then 127.0.0.1 (a Debian localhost). */
export const V6_FIRST = 'v6-then-v4.test';
/** 127.0.0.1 then ::1. */
export const V4_FIRST = 'v4-then-v6.test';

interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** BaseEventLoop's protected seam that every name lookup goes through. */
interface HostLookup {
  lookupHost(host: string, socktype: 'stream' | 'dgram'): Promise<ResolvedAddress[]>;
}

const v6: ResolvedAddress = { address: '::1', family: 6 };
const v4: ResolvedAddress = { address: '127.0.0.1', family: 4 };

/**
 * Makes `loop` resolve V6_FIRST and V4_FIRST to both loopback addresses,
 * in their order; other names as before. For the loop of one case: the
 * harness closes it afterwards.
 */
export function resolveDualStack(loop: AbstractEventLoop): void {
  const own = (loop as unknown as Partial<HostLookup>).lookupHost;
  // Without the seam (renamed or gone), the names would not resolve at
  // all: say so instead of an ENOTFOUND from the resolver.
  if (typeof own !== 'function') throw new Error('the loop has no lookupHost to answer from');
  const lookupHost: HostLookup['lookupHost'] = async (host, socktype) => {
    if (host === V6_FIRST) return [v6, v4];
    if (host === V4_FIRST) return [v4, v6];
    return own.call(loop, host, socktype);
  };
  Object.defineProperty(loop, 'lookupHost', { value: lookupHost, configurable: true });
}
