import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hotFunctions, type CpuProfile } from './profile.js';

const here = (relative: string): string => new URL(`../../${relative}`, import.meta.url).href;

describe('hotFunctions', () => {
  it('ranks functions by self time and names where they are relative to this checkout or node_modules', () => {
    const profile: CpuProfile = {
      startTime: 0,
      endTime: 1_000_000,
      nodes: [
        { id: 1, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 }, hitCount: 50 },
        { id: 2, callFrame: { functionName: 'fanOut', url: here('apps/api/src/hub.ts'), lineNumber: 9 }, hitCount: 30 },
        {
          id: 3,
          callFrame: {
            functionName: 'sendFrame',
            url: pathToFileURL('/elsewhere/node_modules/ws/lib/sender.js').href,
            lineNumber: 0,
          },
          hitCount: 20,
        },
        { id: 4, callFrame: { functionName: '', url: 'node:internal/timers', lineNumber: 4 }, hitCount: 0 },
      ],
    };
    const { totalMs, idleShare, top } = hotFunctions(profile, 2);
    expect(totalMs).toBe(1_000);
    expect(idleShare).toBe(0.5);
    expect(top.map((f) => [f.name, f.where, Math.round(f.selfMs)])).toEqual([
      ['(idle)', '', 500],
      ['fanOut', 'apps/api/src/hub.ts:10', 300],
    ]);
    expect(hotFunctions(profile).top[2]?.where).toBe('ws/lib/sender.js:1');
  });

  it('leaves a location outside the checkout as it is', () => {
    const profile: CpuProfile = {
      startTime: 0,
      endTime: 1_000,
      nodes: [{ id: 1, callFrame: { functionName: 'f', url: 'node:internal/streams', lineNumber: 1 }, hitCount: 1 }],
    };
    expect(hotFunctions(profile).top[0]?.where).toBe('node:internal/streams:2');
  });
});
