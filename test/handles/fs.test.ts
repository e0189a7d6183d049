import test from 'ava';
import { constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fs, UvError } from 'asyncuv';
import { assertNoHandlesAndClose, newLoop } from '../helpers/loop-test.js';
import { connectedTcpFd } from '../helpers/socket-fd.js';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'asyncuv-fs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('write, read back at offsets, stat, rename, scandir, unlink', async (t) => {
  const loop = newLoop(t);
  const dir = tempDir(t);
  const path = join(dir, 'data.bin');
  const fd = await fs.open(loop, path, 'w+', 0o600);
  t.true(fd > 2);
  t.is(await fs.write(loop, fd, 'hello, '), 7);
  t.is(await fs.write(loop, fd, Buffer.from('xxworld!xx'), 2, 6), 6);
  // A positional write does not move the file position.
  t.is(await fs.write(loop, fd, 'W', 0, 1, 7), 1);
  await fs.fsync(loop, fd);
  t.is(readFileSync(path, 'utf8'), 'hello, World!');

  const buf = Buffer.alloc(16, 0x2e);
  t.is(await fs.read(loop, fd, buf, 4, 5, 7), 5);
  t.is(buf.toString('latin1'), '....World.......');
  t.is(await fs.read(loop, fd, buf, 0, 16, 13), 0, 'EOF reads 0 bytes');

  const st = await fs.fstat(loop, fd);
  t.is(st.size, 13);
  t.true(st.isFile());
  t.false(st.isDirectory());
  t.is(st.mode & 0o777, 0o600);
  await fs.ftruncate(loop, fd, 5);
  t.is((await fs.fstat(loop, fd)).size, 5);
  await fs.close(loop, fd);

  const renamed = join(dir, 'renamed.bin');
  await fs.rename(loop, path, renamed);
  t.is((await fs.stat(loop, renamed)).size, 5);
  await fs.mkdir(loop, join(dir, 'sub'), 0o755);
  t.true((await fs.lstat(loop, join(dir, 'sub'))).isDirectory());
  const entries = await fs.scandir(loop, dir);
  t.deepEqual(
    entries.sort((a, b) => a.name.localeCompare(b.name)),
    [
      { name: 'renamed.bin', type: 'file' },
      { name: 'sub', type: 'dir' },
    ],
  );
  await fs.rmdir(loop, join(dir, 'sub'));
  await fs.unlink(loop, renamed);
  t.deepEqual(await fs.scandir(loop, dir), []);
  await assertNoHandlesAndClose(t, loop);
});

test('links, real paths, temporary directories, modes, owners, times, access, copies', async (t) => {
  const loop = newLoop(t);
  const dir = await fs.realpath(loop, tempDir(t));
  const file = join(dir, 'file');
  writeFileSync(file, 'content');

  await fs.symlink(loop, 'file', join(dir, 'soft'));
  t.is(await fs.readlink(loop, join(dir, 'soft')), 'file');
  t.true((await fs.lstat(loop, join(dir, 'soft'))).isSymbolicLink());
  t.is(await fs.realpath(loop, join(dir, '.', 'soft')), file);
  await fs.link(loop, file, join(dir, 'hard'));
  t.is((await fs.stat(loop, file)).nlink, 2);
  t.is(readFileSync(join(dir, 'hard'), 'utf8'), 'content');

  const made = await fs.mkdtemp(loop, join(dir, 'tmp-'));
  t.regex(made, /\/tmp-[A-Za-z0-9]{6}$/);
  t.true((await fs.stat(loop, made)).isDirectory());

  await fs.chmod(loop, file, 0o640);
  t.is((await fs.stat(loop, file)).mode & 0o777, 0o640);
  const fd = await fs.open(loop, file, 'r+');
  await fs.fchmod(loop, fd, 0o600);
  t.is((await fs.fstat(loop, fd)).mode & 0o777, 0o600);
  const { uid, gid } = await fs.stat(loop, file);
  await fs.chown(loop, file, -1, -1); // -1 keeps both
  await fs.fchown(loop, fd, uid, gid);
  await fs.lchown(loop, join(dir, 'soft'), uid, gid);
  t.is((await fs.stat(loop, file)).uid, uid);

  await fs.utime(loop, file, 1_000_000, new Date(2_000_000_500));
  const times = await fs.stat(loop, file);
  t.is(times.atimeMs, 1_000_000_000);
  t.is(times.mtimeMs, 2_000_000_500);
  await fs.futime(loop, fd, 5, 6.25);
  t.is((await fs.fstat(loop, fd)).mtimeMs, 6250);
  await fs.lutime(loop, join(dir, 'soft'), 7, 8);
  t.is((await fs.lstat(loop, join(dir, 'soft'))).mtimeMs, 8000);
  t.is((await fs.stat(loop, file)).mtimeMs, 6250, 'the target kept its times');
  await fs.fdatasync(loop, fd);
  await fs.close(loop, fd);

  await fs.access(loop, file);
  await fs.access(loop, file, constants.R_OK | constants.W_OK);
  await t.throwsAsync(fs.access(loop, join(dir, 'missing')), {
    instanceOf: UvError,
    code: 'ENOENT',
    message: /^access/,
  });

  await fs.copyfile(loop, file, join(dir, 'copy'));
  t.is(readFileSync(join(dir, 'copy'), 'utf8'), 'content');
  await t.throwsAsync(fs.copyfile(loop, file, join(dir, 'copy'), constants.COPYFILE_EXCL), {
    instanceOf: UvError,
    code: 'EEXIST',
  });
  await fs.copyfile(loop, file, join(dir, 'clone'), constants.COPYFILE_FICLONE);
  t.is(readFileSync(join(dir, 'clone'), 'utf8'), 'content');

  await t.throwsAsync(fs.readlink(loop, file), { instanceOf: UvError, code: 'EINVAL' });
  await t.throwsAsync(fs.realpath(loop, join(dir, 'missing')), { code: 'ENOENT' });
  await t.throwsAsync(fs.link(loop, file, join(dir, 'hard')), { code: 'EEXIST' });
  await t.throwsAsync(fs.mkdtemp(loop, join(dir, 'missing', 'x')), { code: 'ENOENT' });
  await t.throwsAsync(fs.utime(loop, file, Number.NaN, 0), { code: 'ERR_INVALID_ARG_TYPE' });
  await t.throwsAsync(fs.chmod(loop, file, 0o10000), { code: 'ERR_OUT_OF_RANGE' });
  await t.throwsAsync(fs.chown(loop, file, -2, 0), { code: 'ERR_OUT_OF_RANGE' });
  await t.throwsAsync(fs.access(loop, file, 8), { code: 'ERR_OUT_OF_RANGE' });
  await t.throwsAsync(fs.copyfile(loop, file, 'x\0y'), { code: 'ERR_INVALID_ARG_VALUE' });
  await assertNoHandlesAndClose(t, loop);
});

test('a buffer being read into may be dropped by the caller', async (t) => {
  const loop = newLoop(t);
  const dir = tempDir(t);
  const path = join(dir, 'big.bin');
  const content = Buffer.alloc(1 << 20, 7);
  writeFileSync(path, content);
  const fd = await fs.open(loop, path);
  // Nothing but the request holds the buffer while the read is in flight.
  const reads = [];
  for (let i = 0; i < 8; i++) reads.push(fs.read(loop, fd, new Uint8Array(1 << 20), 0, 1 << 20, 0));
  (globalThis as { gc?: () => void }).gc?.();
  t.deepEqual(await Promise.all(reads), Array(8).fill(1 << 20));
  await fs.close(loop, fd);
  await assertNoHandlesAndClose(t, loop);
});

test('sendfile copies file to file inside the kernel', async (t) => {
  const loop = newLoop(t);
  const dir = tempDir(t);
  const src = join(dir, 'src');
  const dst = join(dir, 'dst');
  writeFileSync(src, '0123456789abcdef');
  const inFd = await fs.open(loop, src, 'r');
  const outFd = await fs.open(loop, dst, 'w');
  t.is(await fs.sendfile(loop, outFd, inFd, 4, 8), 8);
  // Past the end of the input only what exists is transferred.
  t.is(await fs.sendfile(loop, outFd, inFd, 12, 100), 4);
  await fs.close(loop, inFd);
  await fs.close(loop, outFd);
  t.is(readFileSync(dst, 'utf8'), '456789abcdef');
  await assertNoHandlesAndClose(t, loop);
});

test('sendfile copies a file into a socket', async (t) => {
  const loop = newLoop(t);
  const dir = tempDir(t);
  const src = join(dir, 'src');
  const content = Buffer.alloc(16 * 1024, 'z');
  content.write('head', 0);
  writeFileSync(src, content);
  // The receiving side is Node's own net server on Node's loop.
  const received = new Promise<Buffer>((resolve) => {
    const server = createServer((socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (c) => chunks.push(c));
      socket.on('end', () => {
        resolve(Buffer.concat(chunks));
        server.close();
      });
    });
    server.listen(0, '127.0.0.1', async () => {
      const client = await connectedTcpFd((server.address() as { port: number }).port);
      const inFd = await fs.open(loop, src);
      // 16 KiB fits in a fresh socket's buffer: one call transfers it all.
      t.is(await fs.sendfile(loop, client.fd, inFd, 0, content.length), content.length);
      await fs.close(loop, inFd);
      client.close();
    });
  });
  t.true((await received).equals(content));
  await assertNoHandlesAndClose(t, loop);
});

test('errors are UvErrors with the syscall', async (t) => {
  const loop = newLoop(t);
  const dir = tempDir(t);
  const missing = join(dir, 'missing');
  const err = await t.throwsAsync(fs.open(loop, missing), { instanceOf: UvError, code: 'ENOENT' });
  t.is(err?.syscall, 'open');
  t.true(err?.message.includes(missing));
  await t.throwsAsync(fs.stat(loop, missing), {
    instanceOf: UvError,
    code: 'ENOENT',
    message: /^stat/,
  });
  await t.throwsAsync(fs.unlink(loop, missing), { instanceOf: UvError, code: 'ENOENT' });
  await t.throwsAsync(fs.rmdir(loop, tmpdir() + '/asyncuv-no-such-dir'), {
    instanceOf: UvError,
    code: 'ENOENT',
  });
  await t.throwsAsync(fs.scandir(loop, missing), {
    instanceOf: UvError,
    code: 'ENOENT',
    message: /^scandir/,
  });
  await t.throwsAsync(fs.open(loop, dir, 'w'), { instanceOf: UvError, code: 'EISDIR' });
  await t.throwsAsync(fs.mkdir(loop, dir), { instanceOf: UvError, code: 'EEXIST' });
  // An fd that is not open.
  const bad = await t.throwsAsync(fs.read(loop, 1_000_000, Buffer.alloc(4)), {
    instanceOf: UvError,
    code: 'EBADF',
  });
  t.is(bad?.syscall, 'read');
  await t.throwsAsync(fs.close(loop, 1_000_000), { instanceOf: UvError, code: 'EBADF' });
  await assertNoHandlesAndClose(t, loop);
});

test('bad arguments are typed usage errors', async (t) => {
  const loop = newLoop(t);
  await t.throwsAsync(fs.open(loop, 42 as unknown as string), { code: 'ERR_INVALID_ARG_TYPE' });
  await t.throwsAsync(fs.open(loop, 'a\0b'), { code: 'ERR_INVALID_ARG_VALUE' });
  await t.throwsAsync(fs.open(loop, '/tmp/x', 'rw' as 'r'), { code: 'ERR_INVALID_ARG_VALUE' });
  await t.throwsAsync(fs.read(loop, 0, Buffer.alloc(4), 2, 3), { code: 'ERR_OUT_OF_RANGE' });
  await t.throwsAsync(fs.read(loop, -1, Buffer.alloc(4)), { code: 'ERR_OUT_OF_RANGE' });
  await t.throwsAsync(fs.read(loop, 0, 'nope' as unknown as Buffer), {
    code: 'ERR_INVALID_ARG_TYPE',
  });
  await t.throwsAsync(fs.stat('not a loop' as never, '/'), { code: 'ERR_INVALID_ARG_TYPE' });
  await assertNoHandlesAndClose(t, loop);
  await t.throwsAsync(fs.stat(loop, '/'), { code: 'ERR_LOOP_CLOSED' });
});

test('loop.close() waits for requests in flight', async (t) => {
  const loop = newLoop(t);
  const pending = fs.stat(loop, '/');
  t.deepEqual(loop.handleCounts(), {}, 'requests are not handles');
  loop.close();
  t.true((await pending).isDirectory());
});
