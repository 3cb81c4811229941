import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { DatabaseBootError, STANDALONE_MESSAGE } from '../src/db.js';
import { startFakeStandalone } from './support/fake-standalone.js';
import { testConfig, unusedPort } from './support/app.js';

async function bootError(uri: string): Promise<unknown> {
  const app = buildApp(testConfig(uri, { MONGODB_TIMEOUT_MS: '500' }), { logger: false });
  try {
    await app.ready();
    return null;
  } catch (error) {
    return error;
  } finally {
    await app.close().catch(() => undefined);
  }
}

describe('booting against MONGODB_URI', () => {
  it('stops with a message naming the host (without credentials) and the fix when the server is unreachable', async () => {
    const port = await unusedPort();
    const error = await bootError(`mongodb://orders:s3cret@127.0.0.1:${port}/?directConnection=true`);
    expect(error).toBeInstanceOf(DatabaseBootError);
    const message = (error as DatabaseBootError).message;
    expect(message).toContain(`Cannot reach MongoDB at 127.0.0.1:${port} (from MONGODB_URI)`);
    expect(message).toContain('unset MONGODB_URI to use the embedded database');
    expect(message).not.toContain('s3cret');
  });

  it('refuses a standalone mongod, because it has no change streams, and says how to fix it', async () => {
    const standalone = await startFakeStandalone();
    try {
      const error = await bootError(standalone.uri);
      expect(error).toBeInstanceOf(DatabaseBootError);
      expect((error as DatabaseBootError).message).toContain(STANDALONE_MESSAGE);
      expect(STANDALONE_MESSAGE).toContain('start mongod with --replSet rs0 and run rs.initiate()');
    } finally {
      await standalone.close();
    }
  });
});
