import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { afterEach, describe, expect, it, vi } from 'vitest';

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function run(args: string[]): {
  child: ChildProcess;
  exit: Promise<number | null>;
  stdout: () => string;
  stderr: () => string;
} {
  const child = spawn(process.execPath, ['--conditions=@orders/source', '--import', 'tsx', CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exit, stdout: () => out, stderr: () => err };
}

describe('cli --setParameter', () => {
  it('sets ttlMonitorSleepSecs at startup, as mongod does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mongo-embedded-cli-ttl-'));
    dirs.push(dir);
    const r = run(['--port', '0', '--dbpath', dir, '--setParameter', 'ttlMonitorSleepSecs=1']);
    const uri = await vi.waitFor(
      () => {
        const line = r
          .stdout()
          .split('\n')
          .find((l) => l.startsWith('mongodb://'));
        if (!line) throw new Error(`no connection string yet: ${r.stderr()}`);
        return line.trim();
      },
      { timeout: 20_000, interval: 50 },
    );
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
    try {
      const reply = await client.db('admin').command({ getParameter: 1, ttlMonitorSleepSecs: 1 });
      expect(reply.ttlMonitorSleepSecs).toBe(1);
    } finally {
      await client.close();
    }
    r.child.kill('SIGTERM');
    expect(await r.exit).toBe(0);
  });

  it('rejects parameters it cannot set and bad values with exit code 2', async () => {
    for (const value of ['noSuchParameter=1', 'ttlMonitorSleepSecs=0', 'ttlMonitorSleepSecs=often']) {
      const r = run(['--setParameter', value]);
      expect(await r.exit).toBe(2);
      expect(r.stderr()).toContain(`unsupported --setParameter: ${value}`);
    }
  });
});
