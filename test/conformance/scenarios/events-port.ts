// Cases of CPython's test_events.py (EventLoopTestsMixin,
// SubprocessTestsMixin) that had no counterpart in this suite:
// test_read_pty_output, test_write_pty, test_bidirectional_pty,
// test_run_until_complete_nesting, test_run_until_complete_stopped,
// test_datagram_send_to_non_listening_address,
// test_call_soon_threadsafe_same_thread,
// test_create_connection_local_addr_skip_different_family,
// test_create_connection_local_addr_in_use and test_create_server_addr_in_use
// (the address in the error), test_create_server_multiple_hosts_ipv4 and _ipv6,
// test_subprocess_wait_no_same_group, PolicyTests' test_set_event_loop_policy
// and test_new_event_loop (setEventLoopFactory, newEventLoop), and the Popen
// options of
// test_subprocess_exec_invalid_args / test_subprocess_shell_invalid_args.
//
// The pty cases: a pseudo-terminal comes from test/fixtures/pty-relay.py
// (python3's os.openpty; Node has none), which prints the path of the
// terminal side and relays between the master and its stdin/stdout. The
// cases open that path and give the fds to connectReadPipe /
// connectWritePipe, the terminal side where CPython uses the master (the
// master stays in the relay, which is its only way here). NodeEventLoop
// refuses a terminal with ERR_NOT_SUPPORTED (docs/adapters.md: net.Socket
// takes pipes and sockets only); on it the cases assert that, and that the
// refused fd stays the caller's.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type AbstractEventLoop,
  type Address,
  type DatagramProtocol,
  type DatagramTransport,
  newEventLoop,
  NodeEventLoop,
  type Protocol,
  setEventLoopFactory,
  type ReadTransport,
  type Transport,
  type UvError,
  UvEventLoop,
} from 'asyncuv';
import { MySubprocessProtocol, MyWritePipeProto } from '../protocols.js';
import { echoServer, hasIPv6 } from '../peers.js';
import { resolveDualStack, V4_FIRST, V6_FIRST } from '../dual-stack.js';
import {
  type CaseBody,
  cases,
  future,
  type MakeLoop,
  type Test,
  until,
  within,
} from '../harness.js';

// The Python relay is not compiled: it lives in the source tree.
const here = fileURLToPath(new URL('.', import.meta.url));
const relayScript = join(here, '..', '..', '..', '..', 'test', 'fixtures', 'pty-relay.py');

/** A running pty-relay.py: the terminal side's path and what the master read. */
interface PtyRelay {
  path: string;
  /** Everything the master read so far (what was written to the terminal side). */
  output(): string;
  /** Writes to the master: the terminal side reads it. */
  type(data: string): void;
  /** Ends the relay (EOF on its stdin); it closes the master: the terminal side hangs up. */
  end(): Promise<void>;
}

async function ptyRelay(): Promise<PtyRelay> {
  const child: ChildProcess = spawn('python3', [relayScript], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  const exited = once(child, 'exit');
  const pathLine = new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
  });
  const path = await within(pathLine, 'the pty relay to print its path', 20_000);
  return {
    path,
    output: () => out.slice(path.length + 1),
    type: (data) => void child.stdin!.write(data),
    async end() {
      child.stdin!.end();
      await within(exited, 'the pty relay to exit');
    },
  };
}

/** An fd of the terminal side, and whether it is still open. */
interface Terminal {
  fd: number;
  /**
   * True while `fd` is open on this terminal. Cases run concurrently in
   * this process, and a closed fd's number is soon another case's socket
   * or pipe: open on something else counts as closed.
   */
  isOpen(): boolean;
}

/** The terminal side, opened as a program's stdin would be: read-write, not our controlling terminal. */
function openTerminal(path: string): Terminal {
  const fd = openSync(path, constants.O_RDWR | constants.O_NOCTTY);
  const { rdev } = fstatSync(fd);
  return {
    fd,
    isOpen() {
      try {
        const now = fstatSync(fd);
        return now.isCharacterDevice() && now.rdev === rdev;
      } catch {
        return false;
      }
    },
  };
}

/** CPython's MyReadPipeProto: INITIAL, CONNECTED, EOF, CLOSED, and the bytes. */
class ReadPipeProto implements Protocol {
  state: string[] = ['INITIAL'];
  data = '';
  transport: ReadTransport | undefined;
  readonly lost = future<Error | null>();
  connectionMade(t: Transport): void {
    this.transport = t;
    this.state.push('CONNECTED');
  }
  dataReceived(data: Buffer): void {
    this.data += data.toString('latin1');
  }
  eofReceived(): void {
    this.state.push('EOF');
  }
  connectionLost(err: Error | null): void {
    this.state.push('CLOSED');
    this.lost.resolve(err);
  }
}

/**
 * On NodeEventLoop (docs/adapters.md): `connect` of a terminal fd refuses
 * with ERR_NOT_SUPPORTED, before any transport, and the fd stays open, the
 * caller's to close. Returns true when it did (the case ends there).
 */
async function refusedOnNode(
  loop: AbstractEventLoop,
  t: Parameters<CaseBody>[1],
  terminal: Terminal,
  connect: () => Promise<unknown>,
): Promise<boolean> {
  if (!(loop instanceof NodeEventLoop)) return false;
  await t.throwsAsync(connect(), { code: 'ERR_NOT_SUPPORTED' });
  t.true(terminal.isOpen(), 'a refused fd stays the caller’s');
  closeSync(terminal.fd);
  return true;
}

/**
 * A hang-up of the terminal side (the master closed) ends a read
 * transport once: as EOF (connectionLost(null)), or with the read's EIO,
 * which is how Linux reports it on a terminal.
 */
function hangUp(t: Parameters<CaseBody>[1], err: Error | null): void {
  if (err !== null) t.is((err as NodeJS.ErrnoException).code, 'EIO', String(err));
}

export function eventsPort(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = cases(test, makeLoop, name);

  it('test_read_pty_output: connectReadPipe on a terminal reads what is typed, in order, then the hang-up ends it', async ({
    loop,
  }, t) => {
    const relay = await ptyRelay();
    try {
      const terminal = openTerminal(relay.path);
      const { fd } = terminal;
      const proto = new ReadPipeProto();
      if (await refusedOnNode(loop, t, terminal, () => loop.connectReadPipe(() => proto, fd)))
        return;
      const [transport] = await within(
        loop.connectReadPipe(() => proto, fd),
        'connectReadPipe',
      );
      t.is(proto.transport, transport);
      t.deepEqual(proto.state, ['INITIAL', 'CONNECTED']);
      relay.type('1');
      await until(() => proto.data.length >= 1, 'one byte');
      relay.type('2345');
      await until(() => proto.data.length >= 5, 'five bytes');
      t.is(proto.data, '12345');
      t.not(transport.getExtraInfo('pipe'), undefined, 'extra info is available');
      // A second fd on the terminal keeps its pty number taken until the
      // check below: freed, a concurrent case's new pty could get the same
      // number, and its terminal the fd number ours had.
      const keeper = openTerminal(relay.path);
      try {
        // The master closes: the terminal side hangs up and the transport ends.
        await relay.end();
        hangUp(t, await within(proto.lost.promise, 'connectionLost after the hang-up'));
        t.is(proto.state.at(-1), 'CLOSED');
        t.is(proto.state.filter((s) => s === 'CLOSED').length, 1);
        t.false(terminal.isOpen(), 'the transport closed its fd');
      } finally {
        closeSync(keeper.fd);
      }
    } finally {
      await relay.end();
    }
  });

  it('test_write_pty: connectWritePipe on a terminal writes in order; close() ends it with CLOSED', async ({
    loop,
  }, t) => {
    const relay = await ptyRelay();
    try {
      const terminal = openTerminal(relay.path);
      const { fd } = terminal;
      const proto = new MyWritePipeProto();
      if (await refusedOnNode(loop, t, terminal, () => loop.connectWritePipe(() => proto, fd)))
        return;
      const [transport] = await within(
        loop.connectWritePipe(() => proto, fd),
        'connectWritePipe',
      );
      t.is(proto.state, 'CONNECTED');
      transport.write('1');
      await until(() => relay.output().length >= 1, 'one byte at the master');
      transport.write(Buffer.from('2345'));
      await until(() => relay.output().length >= 5, 'five bytes at the master');
      t.is(relay.output(), '12345');
      t.not(transport.getExtraInfo('pipe'), undefined, 'extra info is available');
      transport.close();
      t.true(transport.isClosing());
      t.is(await within(proto.lost.promise, 'connectionLost'), null);
      t.is(proto.state, 'CLOSED');
      t.false(terminal.isOpen(), 'the transport closed its fd');
    } finally {
      await relay.end();
    }
  });

  it('test_bidirectional_pty: a read and a write transport on one terminal, each way in turn', async ({
    loop,
  }, t) => {
    const relay = await ptyRelay();
    try {
      const readTerminal = openTerminal(relay.path);
      const writeTerminal = openTerminal(relay.path);
      const [readFd, writeFd] = [readTerminal.fd, writeTerminal.fd];
      const reader = new ReadPipeProto();
      const writer = new MyWritePipeProto();
      if (loop instanceof NodeEventLoop) {
        closeSync(writeFd);
        await refusedOnNode(loop, t, readTerminal, () =>
          loop.connectReadPipe(() => reader, readFd),
        );
        return;
      }
      const [readTransport] = await within(
        loop.connectReadPipe(() => reader, readFd),
        'read',
      );
      const [writeTransport] = await within(
        loop.connectWritePipe(() => writer, writeFd),
        'write',
      );
      t.deepEqual(reader.state, ['INITIAL', 'CONNECTED']);
      t.is(writer.state, 'CONNECTED');
      writeTransport.write('1');
      await until(() => relay.output().length >= 1, 'one byte at the master');
      t.is(relay.output(), '1');
      relay.type('a');
      await until(() => reader.data.length >= 1, 'one byte typed');
      t.is(reader.data, 'a');
      writeTransport.write('2345');
      await until(() => relay.output().length >= 5, 'five bytes at the master');
      t.is(relay.output(), '12345');
      relay.type('bcde');
      await until(() => reader.data.length >= 5, 'five bytes typed');
      t.is(reader.data, 'abcde');
      t.deepEqual(reader.state, ['INITIAL', 'CONNECTED']);
      t.is(writer.state, 'CONNECTED');
      t.not(readTransport.getExtraInfo('pipe'), undefined);
      t.not(writeTransport.getExtraInfo('pipe'), undefined);
      readTransport.close();
      t.is(await within(reader.lost.promise, 'reader connectionLost'), null);
      t.deepEqual(reader.state, ['INITIAL', 'CONNECTED', 'CLOSED']);
      writeTransport.close();
      t.is(await within(writer.lost.promise, 'writer connectionLost'), null);
      t.is(writer.state, 'CLOSED');
      t.false(readTerminal.isOpen() || writeTerminal.isOpen(), 'each transport closed its fd');
    } finally {
      await relay.end();
    }
  });

  it('test_run_until_complete_nesting: runUntilComplete inside a runUntilComplete rejects with ERR_LOOP_RUNNING', async ({
    loop,
  }, t) => {
    const outer = loop.runUntilComplete(async () => {
      t.true(loop.isRunning());
      await t.throwsAsync(async () => loop.runUntilComplete(Promise.resolve('inner')), {
        code: 'ERR_LOOP_RUNNING',
      });
      return 'outer';
    });
    t.is(await within(outer, 'the outer run'), 'outer');
    t.false(loop.isRunning());
  });

  it('test_run_until_complete_stopped: work that calls stop() and goes on waiting: runUntilComplete rejects with ERR_LOOP_STOPPED', async ({
    loop,
  }, t) => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await t.throwsAsync(
      within(
        loop.runUntilComplete(async () => {
          loop.stop();
          await held;
        }),
        'runUntilComplete',
      ),
      { code: 'ERR_LOOP_STOPPED' },
    );
    t.false(loop.isRunning());
    release();
  });

  it('test_datagram_send_to_non_listening_address: an endpoint that sent to a closed port still receives', async ({
    loop,
  }, t) => {
    /** Keeps what arrives; errorReceived (an ICMP refusal) is allowed. */
    class Keep implements DatagramProtocol {
      got: string[] = [];
      readonly lost = future<Error | null>();
      datagramReceived(data: Buffer): void {
        this.got.push(data.toString());
      }
      errorReceived(): void {}
      connectionLost(err: Error | null): void {
        this.lost.resolve(err);
      }
    }
    const open = async (): Promise<[DatagramTransport, Keep, Address]> => {
      const [tr, p] = await loop.createDatagramEndpoint(() => new Keep(), {
        localAddr: ['127.0.0.1', 0],
      });
      return [tr, p, tr.getExtraInfo('sockname') as Address];
    };
    const [t1, p1, addr1] = await open();
    const [t2, p2, addr2] = await open();
    const [t3, p3, addr3] = await open();
    t3.abort();
    await within(p3.lost.promise, 'the third endpoint closed');
    t1.sendto('a', addr2);
    await until(() => p2.got.length === 1, 'a at 2');
    t2.sendto('b', addr1);
    await until(() => p1.got.length === 1, 'b at 1');
    // Nobody listens at addr3 any more.
    t1.sendto('c', addr3);
    t2.sendto('d', addr1);
    await until(() => p1.got.length === 2, 'd at 1');
    t.deepEqual(p1.got, ['b', 'd']);
    t.deepEqual(p2.got, ['a']);
    t1.close();
    t2.close();
    await within(Promise.all([p1.lost.promise, p2.lost.promise]), 'both closed');
  });

  it('test_set_event_loop_policy, test_new_event_loop: setEventLoopFactory refuses a non-function; newEventLoop() makes the factory’s loop', async ({
    loop,
  }, t) => {
    // The factory is the process's: set and restored in one synchronous
    // stretch, so no other case can see this one's.
    t.throws(() => setEventLoopFactory({} as never), { code: 'ERR_INVALID_ARG_TYPE' });
    const made = newEventLoop();
    t.true(made instanceof UvEventLoop, 'the default factory: a UvEventLoop, still in force');
    made.close();
    setEventLoopFactory(() => loop);
    try {
      t.is(newEventLoop(), loop);
    } finally {
      setEventLoopFactory(() => new UvEventLoop());
    }
    const again = newEventLoop();
    t.not(again, loop);
    again.close();
  });

  it('test_call_soon_threadsafe_same_thread: callSoon and callSoonThreadsafe share one FIFO', async ({
    loop,
  }, t) => {
    const calls: number[] = [];
    loop.callSoon((n: number) => calls.push(n), 1);
    loop.callSoonThreadsafe((n: number) => calls.push(n), 2);
    loop.callSoon((n: number) => calls.push(n), 3);
    const last = future();
    loop.callSoonThreadsafe(() => {
      calls.push(4);
      last.resolve();
    });
    await within(last.promise, 'the last callback');
    t.deepEqual(calls, [1, 2, 3, 4]);
  });

  it('test_create_connection_local_addr_skip_different_family: a localAddr host name is resolved, and each attempt binds its address of the remote’s family', async ({
    loop,
  }, t) => {
    resolveDualStack(loop);
    const loopbacks = { 4: '127.0.0.1', 6: '::1' } as const;
    const servers = { 4: await echoServer(loopbacks[4]), 6: await echoServer(loopbacks[6]) };
    try {
      /** What a connection to the loopback of `family` binds, with localAddr [`local`, 0]. */
      const boundTo = async (local: string, family: 4 | 6): Promise<string> => {
        const [transport] = await within(
          loop.createConnection(() => ({}), loopbacks[family], servers[family].port, {
            localAddr: [local, 0],
          }),
          `createConnection to ${loopbacks[family]} from ${local}`,
        );
        const [host, port] = transport.getExtraInfo('sockname') as [string, number];
        t.true(port > 0);
        transport.close();
        return host;
      };
      // The rule: a name of both families binds the remote's, whichever
      // comes first. Without it, each remote would get the first address
      // of one of the two names, of the other family, and fail to bind.
      for (const name of [V6_FIRST, V4_FIRST]) {
        t.is(await boundTo(name, 4), '127.0.0.1', `${name} to 127.0.0.1`);
        t.is(await boundTo(name, 6), '::1', `${name} to ::1`);
      }
      // A real name, through the loop's resolver: to each family that
      // localhost has here, bound to its first address of that family.
      const localhost = await within(loop.getaddrinfo('localhost', 0), 'getaddrinfo localhost');
      for (const family of [4, 6] as const) {
        const first = localhost.find((a) => a.family === family);
        if (first !== undefined) t.is(await boundTo('localhost', family), first.address);
      }
    } finally {
      await servers[4].close();
      await servers[6].close();
    }
  });

  it('test_create_connection_local_addr_in_use, test_create_server_addr_in_use: EADDRINUSE from bind, naming the address', async ({
    loop,
  }, t) => {
    const server = await echoServer('127.0.0.1');
    try {
      const inUse = `127.0.0.1:${server.port}`;
      const connect = await t.throwsAsync<UvError>(
        within(
          loop.createConnection(() => ({}), '127.0.0.1', server.port, {
            localAddr: ['127.0.0.1', server.port],
          }),
          'createConnection',
        ),
      );
      t.is(connect?.code, 'EADDRINUSE');
      t.is(connect?.syscall, 'bind');
      t.true(connect?.message.includes(inUse), connect?.message);
      const listen = await t.throwsAsync<UvError>(
        within(
          loop.createServer(() => ({}), '127.0.0.1', server.port),
          'createServer',
        ),
      );
      t.is(listen?.code, 'EADDRINUSE');
      t.is(listen?.syscall, 'bind');
      t.true(listen?.message.includes(inUse), listen?.message);
    } finally {
      await server.close();
    }
  });

  it('test_create_server_multiple_hosts_ipv4: each address is served once, hosts given twice or not', async ({
    loop,
  }, t) => {
    // What localhost resolves to is the machine's (/etc/hosts): 127.0.0.1
    // here, ::1 too on stock Debian. Each address once, whatever it is.
    const localhost = await within(loop.getaddrinfo('localhost', 0), 'getaddrinfo localhost');
    const expected = new Set(['127.0.0.1', '127.0.0.2', ...localhost.map((a) => a.address)]);
    const server = await within(
      loop.createServer(() => ({}), ['127.0.0.1', '127.0.0.2', '127.0.0.1', 'localhost'], 0),
      'createServer',
    );
    const sockets = server.sockets();
    t.deepEqual(sockets.map((s) => s.address).sort(), [...expected].sort());
    t.is(new Set(sockets.map((s) => s.port)).size, 1, 'one port for all');
    server.close();
    await within(server.waitClosed(), 'waitClosed');
  });

  if (hasIPv6()) {
    it('test_create_server_multiple_hosts_ipv6: each IPv6 address is served once, ::1 given twice', async ({
      loop,
    }, t) => {
      // asyncio's case feeds made-up addresses through a mocked
      // getaddrinfo; here they are this machine's: ::1 and every other
      // IPv6 address of its interfaces that is not link-local (a link-local
      // one needs a scope).
      const own = Object.values(networkInterfaces())
        .flat()
        .filter((i) => i !== undefined && i.family === 'IPv6' && !i.address.startsWith('fe80:'))
        .map((i) => i!.address);
      const hosts = ['::1', ...own, '::1'];
      const server = await within(
        loop.createServer(() => ({}), hosts, 0),
        'createServer',
      );
      const sockets = server.sockets();
      t.deepEqual(sockets.map((s) => s.address).sort(), [...new Set(hosts)].sort());
      t.is(new Set(sockets.map((s) => s.port)).size, 1, 'one port for all');
      server.close();
      await within(server.waitClosed(), 'waitClosed');
    });
  }

  it('test_subprocess_wait_no_same_group: a child in a session of its own: exit code 7, processExited', async ({
    loop,
  }, t) => {
    const [transport, proto] = await within(
      loop.subprocessShell(() => new MySubprocessProtocol(), 'exit 7', {
        stdin: 'ignore',
        stdout: 'ignore',
        stderr: 'ignore',
        startNewSession: true,
      }),
      'subprocessShell',
    );
    await within(proto.completed, 'the child to exit');
    t.is(transport.getReturncode(), 7);
    t.true(proto.exited);
    transport.close();
    await within(proto.disconnected, 'connectionLost');
    t.deepEqual(proto.violations, []);
  });

  it('test_subprocess_exec_invalid_args, test_subprocess_shell_invalid_args: Popen options that change what the pipes carry are refused', async ({
    loop,
  }, t) => {
    const P = (): MySubprocessProtocol => new MySubprocessProtocol();
    // Options of node:child_process or Popen that are not options here;
    // a cast stands for a JavaScript caller.
    const refused: Array<[string, Record<string, unknown>]> = [
      ['universalNewlines', { universalNewlines: true }],
      ['text', { text: true }],
      ['encoding', { encoding: 'utf8' }],
      ['errors', { errors: 'strict' }],
      ['bufsize', { bufsize: 4096 }],
    ];
    for (const [what, opts] of refused) {
      await t.throwsAsync(
        async () => loop.subprocessExec(P, 'true', [], opts as never),
        { code: 'ERR_INVALID_ARG_VALUE' },
        `exec ${what}`,
      );
      await t.throwsAsync(
        async () => loop.subprocessShell(P, 'exit 0', opts as never),
        { code: 'ERR_INVALID_ARG_VALUE' },
        `shell ${what}`,
      );
    }
    // exec runs no shell, and a shell is always one.
    await t.throwsAsync(async () => loop.subprocessExec(P, 'true', [], { shell: true } as never), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
    await t.throwsAsync(async () => loop.subprocessShell(P, 'exit 0', { shell: false } as never), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
    // Their defaults are accepted: asyncio's values.
    const [transport, proto] = await within(
      loop.subprocessExec(P, 'true', [], {
        stdin: 'ignore',
        stdout: 'ignore',
        stderr: 'ignore',
        ...{ shell: false, universalNewlines: false, text: false, bufsize: 0, encoding: null },
      } as never),
      'subprocessExec with the defaults',
    );
    await within(proto.completed, 'the child to exit');
    t.is(transport.getReturncode(), 0);
    transport.close();
    await within(proto.disconnected, 'connectionLost');
  });
}
