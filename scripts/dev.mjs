// `npm run dev`: the API in watch mode (embedded database unless MONGODB_URI is set) plus the Vite dev server,
// which proxies the API and the WebSocket. Both stop together on Ctrl-C.
import { spawn } from 'node:child_process';

const children = [
  spawn('npm', ['run', 'dev', '-w', '@orders/api'], { stdio: 'inherit' }),
  spawn('npm', ['run', 'dev', '-w', '@orders/web'], { stdio: 'inherit' }),
];

let stopping = false;
function stop(code) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  process.exitCode = code;
}
for (const child of children) child.on('exit', (code) => stop(code ?? 1));
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
