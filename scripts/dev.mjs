// `npm run dev`: the API in watch mode (embedded database unless MONGODB_URI is set) plus the Vite dev server,
// which proxies the API and the WebSocket. Both stop together on Ctrl-C or on a SIGTERM sent to this process alone.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

/**
 * Where the API will listen, read as the API reads it (environment over the root `.env`), so that `PORT=4000 npm
 * run dev` proxies to 4000 instead of the default 3000. Undefined leaves Vite's own default (VITE_API_TARGET or
 * localhost:3000); PORT=0 cannot be known in advance.
 */
function apiTarget() {
  const rootEnvFile = new URL('../.env', import.meta.url);
  const fileEnv = existsSync(rootEnvFile) ? parseEnv(readFileSync(rootEnvFile, 'utf8')) : {};
  const read = (name) => process.env[name] || fileEnv[name] || undefined;
  const port = read('PORT');
  if (port === undefined || !/^[1-9]\d{0,4}$/.test(port)) return undefined;
  const host = read('HOST');
  // A wildcard bind answers on loopback; a specific address may not.
  const address = host === undefined || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

const target = process.env.VITE_API_TARGET === undefined ? apiTarget() : undefined;
const webEnv = target === undefined ? process.env : { ...process.env, VITE_API_TARGET: target };

const children = [
  spawn('npm', ['run', 'dev', '-w', '@orders/api'], { stdio: 'inherit' }),
  spawn('npm', ['run', 'dev', '-w', '@orders/web'], { stdio: 'inherit', env: webEnv }),
];

/** Each running process's parent, or an empty map where `ps` is unavailable. */
function parents() {
  let table;
  try {
    table = execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' });
  } catch {
    return new Map();
  }
  const parentOf = new Map();
  for (const line of table.split('\n')) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number);
    if (Number.isInteger(pid) && Number.isInteger(ppid)) parentOf.set(pid, ppid);
  }
  return parentOf;
}

/**
 * Every process below `pid`. npm runs each script through `sh -c`, and signalling npm does not reach the API or
 * Vite behind that shell: they would outlive this script, still holding their ports.
 */
function descendants(pid) {
  const childrenOf = new Map();
  for (const [child, parent] of parents()) childrenOf.set(parent, [...(childrenOf.get(parent) ?? []), child]);
  const found = [];
  const queue = [pid];
  while (queue.length > 0 && found.length < 10_000) {
    for (const child of childrenOf.get(queue.shift()) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

let stopping = false;
/** Each child's processes as they were when stopping began; whatever outlives the child is signalled then. */
const leftovers = new Map();
function stop(code) {
  if (stopping) return;
  stopping = true;
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    leftovers.set(child, descendants(child.pid));
    child.kill('SIGTERM');
  }
  process.exitCode = code;
}
/** Longer than `tsx watch` gives the API to stop (5 s) before it SIGKILLs it. */
const LEFTOVER_GRACE_MS = 6000;

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * After Ctrl-C every process already has its signal and is stopping; a second one makes `tsx watch` SIGKILL the
 * API mid-shutdown. So the leftovers get a grace period first, and only the tops of the subtrees still alive
 * after it (`tsx watch`, Vite: they pass the signal on) are signalled, once.
 */
function reapLeftovers(child) {
  const left = leftovers.get(child) ?? [];
  const deadline = Date.now() + LEFTOVER_GRACE_MS;
  const check = () => {
    const living = new Set(left.filter(alive));
    if (living.size === 0) return;
    if (Date.now() < deadline) {
      setTimeout(check, 200);
      return;
    }
    const parentOf = parents();
    for (const pid of living) {
      if (!parentOf.has(pid) || living.has(parentOf.get(pid))) continue;
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // Gone in the meantime.
      }
    }
  };
  check();
}
for (const child of children) {
  child.on('exit', (code) => {
    stop(code ?? 1);
    reapLeftovers(child);
  });
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
