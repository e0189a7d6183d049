// A self-signed certificate for localhost, made by openssl for the tests
// that need one (no key material is kept in the repository).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCert {
  key: Buffer;
  cert: Buffer;
}

let cached: Promise<TestCert> | undefined;

/**
 * The certificate, made once per process. openssl runs without blocking
 * the thread: tests start together, and a synchronous RSA key generation
 * on a loaded machine kept the other tests' event loop away for seconds.
 */
export function selfSignedCert(): Promise<TestCert> {
  cached ??= make();
  return cached;
}

async function make(): Promise<TestCert> {
  const dir = await mkdtemp(join(tmpdir(), 'asyncuv-cert-'));
  try {
    await promisify(execFile)('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-days',
      '1',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ]);
    const [key, cert] = await Promise.all([
      readFile(join(dir, 'key.pem')),
      readFile(join(dir, 'cert.pem')),
    ]);
    return { key, cert };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
