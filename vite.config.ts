import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** Project roots are resolved from this file, so `npm test -w <workspace>` (run from the workspace) works too. */
const at = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

/**
 * One `npm test` for the whole repository: each workspace is a Vitest project.
 * The `@orders/source` condition makes workspace packages resolve to their TypeScript sources,
 * so tests never run against stale `dist` output.
 */
const sourceCondition = {
  resolve: { conditions: ['@orders/source'] },
  ssr: { resolve: { conditions: ['@orders/source'] } },
};

export default defineConfig({
  test: {
    projects: [
      {
        ...sourceCondition,
        test: {
          name: 'contracts',
          root: at('./packages/contracts'),
          include: ['src/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        ...sourceCondition,
        test: {
          name: 'client',
          root: at('./packages/client'),
          include: ['src/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        ...sourceCondition,
        test: {
          name: 'mongo-embedded',
          root: at('./packages/mongo-embedded'),
          include: ['src/**/*.test.ts'],
          environment: 'node',
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        ...sourceCondition,
        test: {
          name: 'api',
          root: at('./apps/api'),
          include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        ...sourceCondition,
        test: {
          name: 'bench',
          root: at('./bench'),
          include: ['**/*.test.ts'],
          exclude: ['results/**'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 60_000,
        },
      },
      at('./apps/web/vite.config.ts'),
      {
        // The dashboard in real Chromium against the real API process and the embedded database (apps/web/e2e).
        ...sourceCondition,
        test: {
          name: 'e2e',
          root: at('./apps/web'),
          include: ['e2e/**/*.e2e.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
