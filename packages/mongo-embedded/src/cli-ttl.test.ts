import { MongoClient } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { useCli } from './test-support/cli.js';
import { useDataDirs } from './test-support/data-dir.js';

const { tempDir } = useDataDirs();
const { run, uriOf } = useCli();

describe('cli --setParameter', () => {
  it('sets ttlMonitorSleepSecs at startup, as mongod does', async () => {
    const r = run(['--port', '0', '--dbpath', tempDir(), '--setParameter', 'ttlMonitorSleepSecs=1']);
    const uri = await uriOf(r);
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
    try {
      const reply = await client.db('admin').command({ getParameter: 1, ttlMonitorSleepSecs: 1 });
      expect(reply.ttlMonitorSleepSecs).toBe(1);
    } finally {
      await client.close();
    }
    r.child.kill('SIGTERM');
    expect((await r.exit).code).toBe(0);
  });

  it('rejects parameters it cannot set and bad values with exit code 2', async () => {
    for (const value of ['noSuchParameter=1', 'ttlMonitorSleepSecs=0', 'ttlMonitorSleepSecs=often']) {
      const r = run(['--setParameter', value]);
      expect((await r.exit).code).toBe(2);
      expect(r.stderr()).toContain(`unsupported --setParameter: ${value}`);
    }
  });
});
