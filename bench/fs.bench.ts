// fs: Promise-returning file I/O on the private loop vs node:fs/promises,
// both on libuv's threadpool. Sequential awaits measure the round trip of
// one request (submit, threadpool, completion, Promise resolution).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as nodeFs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fs, Loop } from 'asyncuv';
import { formatTable, perSecond, runCase, type BenchCase } from './harness.js';

const kOps = 5000;
let dir = '';
let file = '';

async function withLoop(body: (loop: Loop) => Promise<void>): Promise<void> {
  const loop = new Loop();
  try {
    await body(loop);
  } finally {
    loop.close();
  }
}

const setup = async (): Promise<void> => {
  dir = mkdtempSync(join(tmpdir(), 'asyncuv-bench-fs-'));
  file = join(dir, 'data');
  writeFileSync(file, Buffer.alloc(1 << 20, 1));
};
const teardown = async (): Promise<void> => rmSync(dir, { recursive: true, force: true });

export const cases: BenchCase[] = [
  {
    name: `fs stat, sequential x ${kOps}`,
    unit: 'ops',
    setup,
    teardown,
    ours: {
      label: 'asyncuv fs.stat',
      run: () =>
        perSecond(kOps, () =>
          withLoop(async (loop) => {
            for (let i = 0; i < kOps; i++) await fs.stat(loop, file);
          }),
        ),
    },
    theirs: {
      label: 'node:fs/promises stat',
      run: () =>
        perSecond(kOps, async () => {
          for (let i = 0; i < kOps; i++) await nodeFs.stat(file);
        }),
    },
  },
  {
    name: `fs read 4 KiB, sequential x ${kOps}`,
    unit: 'ops',
    setup,
    teardown,
    ours: {
      label: 'asyncuv fs.read',
      run: () =>
        perSecond(kOps, () =>
          withLoop(async (loop) => {
            const fd = await fs.open(loop, file);
            const buf = Buffer.alloc(4096);
            for (let i = 0; i < kOps; i++)
              await fs.read(loop, fd, buf, 0, 4096, (i * 4096) % (1 << 20));
            await fs.close(loop, fd);
          }),
        ),
    },
    theirs: {
      label: 'node:fs/promises FileHandle.read',
      run: () =>
        perSecond(kOps, async () => {
          const handle = await nodeFs.open(file);
          const buf = Buffer.alloc(4096);
          for (let i = 0; i < kOps; i++) await handle.read(buf, 0, 4096, (i * 4096) % (1 << 20));
          await handle.close();
        }),
    },
  },
];

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = [];
  for (const c of cases) results.push(await runCase(c, (msg) => process.stderr.write(`${msg}\n`)));
  console.log(formatTable(results));
}
