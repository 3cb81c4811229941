import { randomBytes } from 'node:crypto';
import { ObjectId } from 'mongodb';
import type { App } from '../../apps/api/src/app.js';
import { hashSecret } from '../../apps/api/src/auth/secrets.js';
import type { TokenDocument } from '../../apps/api/src/auth/tokens.js';
import { TOKENS_COLLECTION } from '../../apps/api/src/auth/tokens.js';

/*
 * One admin token for a whole benchmark run. The first process that asks (the orchestrator, before it spawns
 * anything) makes it up and puts it in the environment, which every child inherits; each bench API stores its hash,
 * and every client, load generator and writer sends it. Benchmarks measure the authenticated product.
 */

/** The run's token secret. */
export function benchToken(): string {
  process.env.BENCH_TOKEN ??= `ord_${randomBytes(32).toString('base64url')}`;
  return process.env.BENCH_TOKEN;
}

/** `Authorization` header value for the run's token. */
export function benchAuthorization(): string {
  return `Bearer ${benchToken()}`;
}

/** Stores the run's token (an unscoped admin) in the app's database; idempotent across several bench APIs. */
export async function installBenchToken(app: App): Promise<void> {
  const now = new Date();
  const hash = hashSecret(benchToken());
  await app.mongo.db.collection<TokenDocument>(TOKENS_COLLECTION).updateOne(
    { hash },
    {
      $setOnInsert: {
        _id: new ObjectId(),
        name: 'bench',
        role: 'admin',
        scope: null,
        hash,
        expires_at: new Date(now.getTime() + 86_400_000),
        created_at: now,
        created_by: 'bench',
        last_used_at: null,
      },
    },
    { upsert: true },
  );
}
