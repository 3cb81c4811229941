import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PasswordHasher } from './password.js';
import type { UsersStore } from './users.js';

export const INITIAL_ADMIN_USERNAME = 'admin';
export const INITIAL_ADMIN_FILE = 'initial-admin.txt';

export interface BootstrapLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * On a first start (no users at all) creates `admin` with `password`, or with a generated one written to
 * `dataDir/initial-admin.txt` (mode 0600) and announced in the log by path, never by value. Two processes
 * starting together race on the unique username: only the one that created the user writes the file.
 */
export async function ensureInitialAdmin(
  users: UsersStore,
  hasher: PasswordHasher,
  options: { password: string | undefined; dataDir: string; log: BootstrapLogger },
): Promise<'created' | 'present'> {
  if ((await users.count()) > 0) return 'present';
  const password = options.password ?? randomBytes(18).toString('base64url');
  const result = await users.create({
    username: INITIAL_ADMIN_USERNAME,
    passwordHash: await hasher.hash(password),
    role: 'admin',
    scope: null,
  });
  if (result.status === 'exists') return 'present';
  if (options.password !== undefined) {
    options.log.info({ username: INITIAL_ADMIN_USERNAME }, 'created user admin with ORDERS_ADMIN_PASSWORD');
    return 'created';
  }
  const file = join(options.dataDir, INITIAL_ADMIN_FILE);
  await mkdir(options.dataDir, { recursive: true });
  await writeFile(file, `username: ${INITIAL_ADMIN_USERNAME}\npassword: ${password}\n`, { mode: 0o600 });
  // `mode` applies only to a new file: a file left by an earlier database is narrowed too.
  await chmod(file, 0o600);
  options.log.warn(
    { username: INITIAL_ADMIN_USERNAME, file },
    `created user admin; its password is in ${file} (sign in, change it, then delete the file)`,
  );
  return 'created';
}
