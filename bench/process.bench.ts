// Spawn-to-exit latency: N sequential runs of /bin/true, each spawned only
// after the previous one exited, with stdio ignored. asyncuv's Process on
// its private loop vs node:child_process.spawn.
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { Loop, Process } from 'asyncuv';
import { formatTable, perSecond, runCase, type BenchCase } from './harness.js';

const kSpawns = 200;
const kFile = '/bin/true';

async function asyncuvSpawns(count: number): Promise<void> {
  const loop = new Loop();
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve, reject) => {
      const proc = Process.spawn(loop, {
        file: kFile,
        onExit: (status) => {
          proc.close();
          if (status === 0) resolve();
          else reject(new Error(`exit ${status}`));
        },
      });
    });
  }
  loop.close();
}

async function childProcessSpawns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(kFile, [], { stdio: 'ignore' });
      child.on('error', reject);
      child.on('exit', (status) =>
        status === 0 ? resolve() : reject(new Error(`exit ${status}`)),
      );
    });
  }
}

export const cases: BenchCase[] = [
  {
    name: `spawn-to-exit of ${kFile}, ${kSpawns} sequential`,
    unit: 'spawns',
    ours: {
      label: 'asyncuv Process.spawn',
      run: () => perSecond(kSpawns, () => asyncuvSpawns(kSpawns)),
    },
    theirs: {
      label: 'child_process.spawn',
      run: () => perSecond(kSpawns, () => childProcessSpawns(kSpawns)),
    },
    rounds: 5,
  },
];

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = [];
  for (const c of cases) results.push(await runCase(c, (msg) => process.stderr.write(`${msg}\n`)));
  console.log(formatTable(results));
}
