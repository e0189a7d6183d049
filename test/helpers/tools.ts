// Tests that drive programs from outside npm (Debian's redis-tools, curl,
// openssl, python3) run where those programs are installed. Where one is
// missing on a developer's machine the test is skipped, and its title says
// which program and how to get it. With ASYNCUV_REQUIRE_TOOLS=1 (.ci/run sets
// it) a missing program fails the test instead, so CI never skips silently.
import type { Implementation, TestFn } from 'ava';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The Debian package that carries each program the tests use. */
const packages: Record<string, string> = {
  'redis-cli': 'redis-tools',
  'redis-benchmark': 'redis-tools',
  'redis-server': 'redis-server',
  curl: 'curl',
  openssl: 'openssl',
  python3: 'python3',
  wrk: 'wrk',
  ss: 'iproute2',
};

function onPath(program: string): boolean {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** The programs of `programs` that are not on PATH. */
export function missingPrograms(programs: readonly string[]): string[] {
  return programs.filter((p) => !onPath(p));
}

/** What to tell a developer who lacks `missing`. */
function reason(missing: readonly string[]): string {
  const debs = [...new Set(missing.map((p) => packages[p] ?? p))];
  return `needs ${missing.join(', ')}: apt-get install ${debs.join(' ')}`;
}

/**
 * `test`, for tests that need `programs`: the same where they are all
 * installed; otherwise a skip (or, under ASYNCUV_REQUIRE_TOOLS=1, a failure)
 * whose title names what is missing.
 */
export function withPrograms<Context>(
  test: TestFn<Context> | TestFn<Context>['serial'],
  programs: readonly string[],
): (title: string, impl: Implementation<[], Context>) => void {
  const missing = missingPrograms(programs);
  if (missing.length === 0) return (title, impl) => test(title, impl);
  const why = reason(missing);
  if (process.env['ASYNCUV_REQUIRE_TOOLS'] === '1') {
    return (title) => test(title, (t) => t.fail(`ASYNCUV_REQUIRE_TOOLS=1 and this test ${why}`));
  }
  return (title, impl) => test.skip(`${title} [skipped: ${why}]`, impl);
}
