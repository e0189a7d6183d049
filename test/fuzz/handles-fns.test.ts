// The handle layer's constructors, static methods and functions (fs, dns,
// Process.spawn, Async.from, TTY.isatty, errname) with wrong and plausible
// arguments: each returns, throws or rejects typed, and leaks no handle.
// Serial: fs calls get an fd of this test, which no concurrent test may reuse.
import test from 'ava';
import fc from 'fast-check';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { types } from 'node:util';
import { Async } from '../../handles/async.js';
import { Check } from '../../handles/check.js';
import * as dns from '../../handles/dns.js';
import { FSEvent } from '../../handles/fs-event.js';
import { FSPoll } from '../../handles/fs-poll.js';
import * as fs from '../../handles/fs.js';
import type { Handle } from '../../handles/handle.js';
import { Idle } from '../../handles/idle.js';
import { Loop } from '../../handles/loop.js';
import { Pipe } from '../../handles/pipe.js';
import { Poll } from '../../handles/poll.js';
import { Prepare } from '../../handles/prepare.js';
import { Process } from '../../handles/process.js';
import { Signal } from '../../handles/signal.js';
import { TCP } from '../../handles/tcp.js';
import { Timer } from '../../handles/timer.js';
import { TTY } from '../../handles/tty.js';
import { UDP } from '../../handles/udp.js';
import { UsageError } from '../../errors/usage-error.js';
import { errname } from '../../handles/uv-error.js';
import { loopTest } from '../helpers/loop-test.js';
import {
  arg,
  attempt,
  attemptAsync,
  badFd,
  check,
  garbage,
  show,
  totalLine,
} from './arbitraries.js';

test.after.always(() => console.log(totalLine('handles-fns')));

const dir = mkdtempSync(join(tmpdir(), 'asyncuv-fuzz-fns-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'file');
writeFileSync(file, 'hello fuzz');
let seq = 0;

// Paths only inside this test's directory (fs calls create and remove
// things); everything else given is a non-string.
const path = arg(
  fc
    .constantFrom('file', 'new', 'missing/x', 'dir', '', 'a\0b')
    .map((k) =>
      k === 'file'
        ? file
        : k === 'new'
          ? join(dir, `n${seq++}`)
          : k === 'dir'
            ? dir
            : k === 'missing/x'
              ? join(dir, 'missing', 'x')
              : k,
    ),
  garbage.filter((v) => typeof v !== 'string'),
);

loopTest.serial('handle constructors, statics and errname with any arguments', async (t, loop) => {
  const other = new Loop();
  const closedLoop = new Loop();
  closedLoop.close();
  const loopArgs = fc.oneof(
    fc.constantFrom<unknown>(loop, loop, undefined, other, closedLoop),
    garbage,
  );
  const ctors: Array<[string, fc.Arbitrary<unknown[]>, (...a: unknown[]) => unknown]> = [
    ['new Timer', fc.tuple(loopArgs), (l) => new Timer(l as Loop)],
    ['new Idle', fc.tuple(loopArgs), (l) => new Idle(l as Loop)],
    ['new Prepare', fc.tuple(loopArgs), (l) => new Prepare(l as Loop)],
    ['new Check', fc.tuple(loopArgs), (l) => new Check(l as Loop)],
    ['new Signal', fc.tuple(loopArgs), (l) => new Signal(l as Loop)],
    [
      'new Async',
      fc.tuple(loopArgs, arg(fc.constant(() => {}))),
      (l, cb) => new Async(l as Loop, cb as () => void),
    ],
    ['new TCP', fc.tuple(loopArgs), (l) => new TCP(l as Loop)],
    ['new UDP', fc.tuple(loopArgs), (l) => new UDP(l as Loop)],
    [
      'new Pipe',
      fc.tuple(loopArgs, arg(fc.boolean())),
      (l, ipc) => new Pipe(l as Loop, ipc as boolean),
    ],
    [
      'new TTY',
      fc.tuple(loopArgs, badFd, garbage),
      (l, fd, r) => new TTY(l as Loop, fd as number, r as boolean),
    ],
    ['new Poll', fc.tuple(loopArgs, badFd), (l, fd) => new Poll(l as Loop, fd as number)],
    ['new FSPoll', fc.tuple(loopArgs), (l) => new FSPoll(l as Loop)],
    ['new FSEvent', fc.tuple(loopArgs), (l) => new FSEvent(l as Loop)],
    [
      'Async.from',
      fc.tuple(fc.oneof(garbage, fc.record({ asyncuvAsync: fc.oneof(fc.bigInt(), garbage) }))),
      (h) => Async.from(h as never),
    ],
    ['TTY.isatty', fc.tuple(badFd), (fd) => TTY.isatty(fd as number)],
    ['TTY.resetMode', fc.tuple(), () => TTY.resetMode()],
    [
      'errname',
      fc.tuple(fc.oneof(garbage, fc.integer({ min: -200, max: 10 }))),
      (n) => errname(n as number),
    ],
  ];
  try {
    await check(
      t,
      'constructors and statics',
      fc.property(
        fc.oneof(
          ...ctors.map(([name, args, fn]) => fc.tuple(fc.constant(name), args, fc.constant(fn))),
        ),
        ([name, args, fn]) => {
          const what = `${name}(${args.map(show).join(', ')})`;
          const made = attempt(what, () => fn(...args)) as unknown;
          if (
            made !== null &&
            typeof made === 'object' &&
            typeof (made as Handle).close === 'function'
          )
            (made as Handle).close();
          if (name === 'TTY.isatty' && made !== undefined && typeof made !== 'boolean')
            throw new Error(`${what} gave ${show(made)}`);
          if (name === 'errname' && made !== undefined && typeof made !== 'string')
            throw new Error(`${what} gave ${show(made)}`);
          // A sender for an Async id nobody owns can only report that.
          if (name === 'Async.from' && made !== undefined) {
            attempt(`${what}.send()`, () => (made as { send(): void }).send());
          }
        },
      ),
      150,
    );
  } finally {
    other.close();
  }
});

loopTest.serial(
  'Process.spawn with any options: a child, or a typed error and no handle left',
  async (t, loop) => {
    const stdioEntry = fc.constantFrom<unknown>(
      'pipe',
      'ignore',
      'inherit',
      'closed',
      'foreign',
      'new-pipe',
      'new-pipe',
      1,
      -1,
      1.5,
      null,
      'bogus',
      'constructor',
    );
    const opts = fc.record(
      {
        file: arg(fc.constantFrom('true', 'sh', '/nonexistent/prog', '', dir)),
        args: arg(fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 })),
        argv0: arg(fc.string({ maxLength: 5 })),
        env: arg(
          fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 3 }),
        ),
        cwd: path,
        uid: arg(fc.constant(process.getuid?.() ?? 0)),
        gid: arg(fc.constant(process.getgid?.() ?? 0)),
        detached: arg(fc.boolean()),
        stdio: arg(fc.array(stdioEntry, { maxLength: 4 })),
        onExit: arg(fc.constant(() => {})),
      },
      { requiredKeys: [] },
    );
    const foreignLoop = new Loop();
    const foreign = new Pipe(foreignLoop);
    try {
      await check(
        t,
        'Process.spawn',
        fc.property(
          fc.oneof(
            { weight: 5, arbitrary: opts as fc.Arbitrary<unknown> },
            { weight: 1, arbitrary: garbage },
          ),
          (o) => {
            const made: Handle[] = [];
            let real = o;
            // (A Proxy is passed on as it is: its getters may throw, and that is Process.spawn's to meet.)
            if (
              typeof o === 'object' &&
              o !== null &&
              !types.isProxy(o) &&
              Array.isArray((o as { stdio?: unknown }).stdio)
            ) {
              const stdio = (o as { stdio: unknown[] }).stdio.map((e) => {
                if (e === 'closed') {
                  const p = new Pipe(loop);
                  p.close();
                  return p;
                }
                if (e === 'foreign') return foreign;
                if (e === 'new-pipe') {
                  const p = new Pipe(loop);
                  made.push(p);
                  return p;
                }
                return e;
              });
              real = { ...o, stdio };
            }
            try {
              const child = attempt(`Process.spawn(loop, ${show(o)})`, () =>
                Process.spawn(loop, real as never),
              );
              if (child !== undefined) {
                child.close();
                for (const p of child.stdio) p?.close();
              }
            } finally {
              for (const p of made) p.close();
            }
          },
        ),
        80,
      );
    } finally {
      foreign.close();
      foreignLoop.close();
    }
  },
);

loopTest.serial(
  'fs functions with any arguments resolve or reject typed, never on an fd they were not given',
  async (t, loop) => {
    const fd = openSync(file, 'r+');
    const fdArg = arg(fc.constant(fd), badFd);
    const buffer = arg(fc.integer({ min: 0, max: 32 }).map((n) => Buffer.alloc(n)));
    const num = arg(fc.integer({ min: 0, max: 40 }));
    const position = fc.oneof(num, fc.constantFrom<unknown>(null, -1, 0n, 2n ** 70n));
    const loops = fc.oneof(fc.constantFrom<unknown>(loop, undefined), garbage);
    const calls: Array<[string, fc.Arbitrary<unknown[]>]> = [
      [
        'open',
        fc.tuple(
          loops,
          path,
          arg(
            fc.constantFrom<unknown>('r', 'r+', 'w', 'wx', 'a+', 0, 'constructor', 'rw'),
            garbage,
          ),
          arg(fc.constantFrom(0o644, 0o7777, 0o10000)),
        ),
      ],
      ['close', fc.tuple(loops, badFd)],
      ['read', fc.tuple(loops, fdArg, buffer, num, num, position)],
      [
        'write',
        fc.tuple(
          loops,
          fdArg,
          arg(fc.oneof(fc.string({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }))),
          num,
          num,
          position,
        ),
      ],
      ['stat', fc.tuple(loops, path)],
      ['lstat', fc.tuple(loops, path)],
      ['fstat', fc.tuple(loops, fdArg)],
      ['fsync', fc.tuple(loops, fdArg)],
      ['ftruncate', fc.tuple(loops, fdArg, num)],
      ['rename', fc.tuple(loops, path, path)],
      ['unlink', fc.tuple(loops, path)],
      ['mkdir', fc.tuple(loops, path, arg(fc.constantFrom(0o755, 0o7777)))],
      ['rmdir', fc.tuple(loops, path)],
      ['scandir', fc.tuple(loops, path)],
      ['sendfile', fc.tuple(loops, badFd, fdArg, num, num)],
    ];
    try {
      await check(
        t,
        'fs',
        fc.asyncProperty(
          fc.oneof(...calls.map(([name, args]) => fc.tuple(fc.constant(name), args))),
          async ([name, args]) => {
            // rename/unlink/rmdir must not take away what other cases use.
            if (
              (name === 'rename' || name === 'unlink' || name === 'rmdir') &&
              (args[1] === file || args[1] === dir)
            )
              return;
            const what = `fs.${name}(${args.map(show).join(', ')})`;
            const result = await attemptAsync(what, () =>
              (fs as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name]!(
                ...args,
              ),
            );
            // An fd opened here is closed here (with the same module).
            if (name === 'open' && typeof result === 'number') await fs.close(loop, result);
            if (name === 'open' && result !== undefined && typeof result !== 'number')
              throw new Error(`${what} resolved ${show(result)}`);
          },
        ),
        150,
      );
    } finally {
      closeSync(fd);
    }
  },
);

loopTest.serial(
  'dns.getaddrinfo/getnameinfo with any arguments resolve or reject typed',
  async (t, loop) => {
    const hosts = arg(
      fc.constantFrom<unknown>('127.0.0.1', '::1', 'localhost', '', '1.2.3.4.5', 'a\0b', undefined),
      garbage.filter((v) => typeof v !== 'string'),
    );
    const hints = arg(
      fc.record(
        {
          family: arg(fc.constantFrom(0, 4, 6, 'IPv4', 'IPv6')),
          socktype: arg(fc.nat(3)),
          protocol: arg(fc.constantFrom(0, 6, 17)),
          flags: arg(fc.constantFrom(0, dns.constants.AI_NUMERICHOST, dns.constants.AI_PASSIVE)),
        },
        { requiredKeys: [] },
      ),
    );
    await check(
      t,
      'dns',
      fc.asyncProperty(
        fc.boolean(),
        hosts,
        arg(fc.constantFrom<unknown>(80, 0, 'http', undefined)),
        hints,
        async (forward, host, port, h) => {
          if (forward) {
            const r = await attemptAsync(
              `dns.getaddrinfo(loop, ${show(host)}, ${show(port)}, ${show(h)})`,
              () => dns.getaddrinfo(loop, host as never, port as never, h as never),
              8000,
            );
            if (r !== undefined && !Array.isArray(r))
              throw new Error(`getaddrinfo resolved ${show(r)}`);
          } else {
            const r = await attemptAsync(
              `dns.getnameinfo(loop, ${show(host)}, ${show(port)})`,
              () => dns.getnameinfo(loop, host as never, port as never),
              8000,
            );
            if (r !== undefined && (typeof r.host !== 'string' || typeof r.service !== 'string'))
              throw new Error(`getnameinfo resolved ${show(r)}`);
          }
        },
      ),
      60,
    );
    void UsageError;
  },
);
