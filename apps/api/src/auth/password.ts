import { randomBytes, scrypt, type ScryptOptions } from 'node:crypto';
import { safeEqual } from './secrets.js';

/**
 * Password hashing with scrypt (memory-hard), OWASP's parameters by default: N = 2^17, r = 8, p = 1, a 16-byte
 * salt per password, a 32-byte key. The parameters are stored with each hash, so raising them later still
 * verifies old hashes. See docs/ARCHITECTURE.md, "Access control".
 */
export interface KdfParameters {
  /** log2 of scrypt's N (cost). */
  logN: number;
  r: number;
  p: number;
}

export const OWASP_SCRYPT: KdfParameters = { logN: 17, r: 8, p: 1 };

const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
/** At most this many hashes run at once: each holds 128·N·r bytes (128 MiB at OWASP's parameters). */
const MAX_CONCURRENT_HASHES = 2;
/** Beyond this many waiting, a sign-in is refused (429) instead of queueing memory and time without bound. */
const MAX_WAITING_HASHES = 32;

/** Thrown when too many hashes are already waiting; the route answers 429. */
export class KdfBusyError extends Error {
  constructor() {
    super('Too many sign-ins in progress');
    this.name = 'KdfBusyError';
  }
}

export interface PasswordHasher {
  /** A new hash of `password` with a fresh salt, in the stored form `scrypt$logN$r$p$salt$key`. */
  hash(password: string): Promise<string>;
  /** True when `password` matches `stored`, compared in constant time; false for a malformed `stored`. */
  verify(password: string, stored: string): Promise<boolean>;
  /**
   * Spends the same work as a verify against a real hash and returns false: used when the user does not
   * exist, so a failed sign-in takes as long either way.
   */
  verifyDummy(password: string): Promise<false>;
}

/** Builds a hasher with the given parameters (tests lower `logN`; production uses OWASP's). */
export function createPasswordHasher(parameters: KdfParameters = OWASP_SCRYPT): PasswordHasher {
  let running = 0;
  const waiting: (() => void)[] = [];
  let dummy: Promise<string> | null = null;

  async function withSlot<T>(work: () => Promise<T>): Promise<T> {
    if (running >= MAX_CONCURRENT_HASHES) {
      if (waiting.length >= MAX_WAITING_HASHES) throw new KdfBusyError();
      await new Promise<void>((resolve) => waiting.push(resolve));
    } else {
      running += 1;
    }
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      // Hand the slot straight to the next waiter; only release it when nobody waits.
      if (next !== undefined) next();
      else running -= 1;
    }
  }

  async function hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_LENGTH);
    const key = await withSlot(() => derive(password, salt, parameters));
    return [
      'scrypt',
      parameters.logN,
      parameters.r,
      parameters.p,
      salt.toString('base64'),
      key.toString('base64'),
    ].join('$');
  }

  async function verify(password: string, stored: string): Promise<boolean> {
    const parsed = parseStored(stored);
    if (parsed === null) return false;
    const key = await withSlot(() => derive(password, parsed.salt, parsed.parameters));
    return safeEqual(key.toString('base64'), parsed.key.toString('base64'));
  }

  async function verifyDummy(password: string): Promise<false> {
    dummy ??= hash(randomBytes(16).toString('base64'));
    await verify(password, await dummy);
    return false;
  }

  return { hash, verify, verifyDummy };
}

function derive(password: string, salt: Buffer, { logN, r, p }: KdfParameters): Promise<Buffer> {
  const N = 2 ** logN;
  const options: ScryptOptions = { N, r, p, maxmem: 256 * N * r };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, options, (err, key) => {
      if (err === null) resolve(key);
      else reject(err);
    });
  });
}

function parseStored(stored: string): { parameters: KdfParameters; salt: Buffer; key: Buffer } | null {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [logN, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![logN, r, p].every((n) => Number.isInteger(n) && n >= 1) || logN > 22) return null;
  const salt = Buffer.from(parts[4] ?? '', 'base64');
  const key = Buffer.from(parts[5] ?? '', 'base64');
  if (salt.length === 0 || key.length !== KEY_LENGTH) return null;
  return { parameters: { logN, r, p }, salt, key };
}
