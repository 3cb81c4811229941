import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { errnoCode, type JournalFs } from './journal-fs.js';
import { LOCK_FILE } from './journal-format.js';

/** Raised by `Journal.open` when another live engine holds the data directory. */
export class DataDirectoryLockedError extends Error {
  readonly code = 'EDBPATHLOCKED';
  constructor(
    readonly dir: string,
    readonly ownerPid: number,
  ) {
    super(
      `data directory ${dir} is already in use by another mongo-embedded engine (process ${ownerPid}, lock file ` +
        `${join(dir, LOCK_FILE)}); stop that process or choose another --dbpath`,
    );
    this.name = 'DataDirectoryLockedError';
  }
}

/**
 * Directories locked by this process. A lock file carrying our own pid is only stale when it is not in this set
 * (an earlier instance in this process crashed without releasing it); checking the set also refuses a second open
 * from the same process, which the pid alone cannot tell apart.
 */
const lockedByThisProcess = new Set<string>();

export interface DirectoryLock {
  release(): Promise<void>;
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else, which still means alive.
    return errnoCode(error) === 'EPERM';
  }
}

async function readOwnerPid(fs: JournalFs, lockPath: string): Promise<number | 'missing' | null> {
  try {
    const text = (await fs.readFile(lockPath)).toString('utf8').trim();
    // pid 0 or absurd values would make process.kill() address a process group: treat them as garbage.
    const pid = /^\d{1,10}$/.test(text) ? Number(text) : 0;
    return pid > 0 && pid <= 0x7fffffff ? pid : null;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return 'missing';
    throw error;
  }
}

/**
 * Takes the exclusive lock on `dir` (absolute path): a lock file holding our pid, created atomically with its content
 * by hard-linking a private temp file (so nobody ever sees an empty lock file). A lock left by a dead process is
 * taken over. Limitation: two processes taking over the same stale lock at the same instant can both succeed; pid
 * reuse can make a stale lock look alive (the error message says which file to remove).
 */
export async function acquireDirectoryLock(fs: JournalFs, dir: string): Promise<DirectoryLock> {
  if (lockedByThisProcess.has(dir)) throw new DataDirectoryLockedError(dir, process.pid);
  // Reserved before the first await so that two concurrent opens in this process cannot both proceed.
  lockedByThisProcess.add(dir);
  const lockPath = join(dir, LOCK_FILE);
  const tempPath = join(dir, `${LOCK_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = await fs.open(tempPath, 'w');
    try {
      const content = Buffer.from(`${process.pid}\n`);
      await fs.write(fd, content, 0, content.length, 0);
    } finally {
      await fs.close(fd);
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await fs.link(tempPath, lockPath);
        return {
          release: async () => {
            lockedByThisProcess.delete(dir);
            await fs.unlink(lockPath);
          },
        };
      } catch (error) {
        if (errnoCode(error) !== 'EEXIST') throw error;
      }
      const owner = await readOwnerPid(fs, lockPath);
      if (owner === 'missing') continue;
      if (owner !== null && owner !== process.pid && isProcessAlive(owner))
        throw new DataDirectoryLockedError(dir, owner);
      // Stale: its owner is dead (or it is unreadable, or it is ours from an instance that never released it).
      try {
        await fs.unlink(lockPath);
      } catch (error) {
        if (errnoCode(error) !== 'ENOENT') throw error;
      }
    }
    throw new Error(`could not acquire the lock on data directory ${dir}: it keeps changing hands`);
  } catch (error) {
    lockedByThisProcess.delete(dir);
    throw error;
  } finally {
    await fs.unlink(tempPath).catch(() => undefined);
  }
}
