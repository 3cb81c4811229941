/* Summarizes a V8 CPU profile (the format `node --cpu-prof` writes) by self time per function. */

import { fileURLToPath } from 'node:url';

/** This checkout's root (with a trailing slash): locations inside it are shown relative to it. */
const REPOSITORY_ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface HotFunction {
  name: string;
  where: string;
  selfMs: number;
  share: number;
}

/** The `limit` functions with the most self time; locations shortened to the package or repository path. */
export function hotFunctions(
  profile: CpuProfile,
  limit = 25,
): { totalMs: number; idleShare: number; top: HotFunction[] } {
  const totalHits = profile.nodes.reduce((n, node) => n + (node.hitCount ?? 0), 0);
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const msPerHit = totalHits > 0 ? totalMs / totalHits : 0;
  const byKey = new Map<string, HotFunction>();
  let idleHits = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    if (name === '(idle)') idleHits += hits;
    const where = url ? `${shorten(url)}:${lineNumber + 1}` : '';
    const key = `${name}@${where}`;
    const entry = byKey.get(key) ?? { name, where, selfMs: 0, share: 0 };
    entry.selfMs += hits * msPerHit;
    byKey.set(key, entry);
  }
  const top = [...byKey.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, limit);
  for (const f of top) f.share = totalHits > 0 ? f.selfMs / totalMs : 0;
  return { totalMs, idleShare: totalHits > 0 ? idleHits / totalHits : 0, top };
}

function shorten(url: string): string {
  const path = url.startsWith('file:') ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf('node_modules/');
  if (nm !== -1) return path.slice(nm + 'node_modules/'.length);
  return path.startsWith(REPOSITORY_ROOT) ? path.slice(REPOSITORY_ROOT.length) : path;
}

/** Markdown table of the hot functions. */
export function profileTable(title: string, profile: CpuProfile, limit = 25): string {
  const { totalMs, idleShare, top } = hotFunctions(profile, limit);
  const lines = [
    `### ${title}`,
    '',
    `${(totalMs / 1000).toFixed(1)} s sampled, idle ${(idleShare * 100).toFixed(0)}%.`,
    '',
    '| self ms | share | function | where |',
    '|---:|---:|---|---|',
  ];
  for (const f of top)
    lines.push(`| ${f.selfMs.toFixed(0)} | ${(f.share * 100).toFixed(1)}% | ${f.name} | ${f.where} |`);
  return lines.join('\n') + '\n';
}
