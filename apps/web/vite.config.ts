import { defaultClientConditions, loadEnv } from 'vite';
import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

/**
 * The dashboard's build, dev server and Vitest project in one file.
 * `@orders/source` makes `@orders/contracts` resolve to its TypeScript sources, so neither the dev server nor the
 * tests depend on a prior `tsc -b` of the contracts package.
 */
export default defineConfig(({ mode }) => {
  // The only place the web app reads the environment: where `npm run dev` finds the API, and its own port.
  const env = loadEnv(mode, process.cwd(), 'VITE_');
  const apiTarget = env.VITE_API_TARGET ?? process.env.VITE_API_TARGET ?? 'http://localhost:3000';
  const toApi = { target: apiTarget, changeOrigin: false };
  // Lets a second checkout, or a test, run the dev server beside one already on 5173 (strictPort: never drift).
  const devPort = process.env.WEB_DEV_PORT ?? '5173';
  if (!/^\d{1,5}$/.test(devPort) || Number(devPort) > 65535) {
    throw new Error(`WEB_DEV_PORT=${JSON.stringify(devPort)}: expected an integer port from 0 to 65535`);
  }

  return {
    root: import.meta.dirname,
    plugins: [react()],
    resolve: { conditions: ['@orders/source', ...defaultClientConditions] },
    build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
    server: {
      port: Number(devPort),
      strictPort: true,
      proxy: {
        '/orders': toApi,
        '/auth': toApi,
        '/healthz': toApi,
        '/readyz': toApi,
        '/openapi.json': toApi,
        '/docs': toApi,
        '/ws': { ...toApi, ws: true },
      },
    },
    test: {
      name: 'web',
      root: import.meta.dirname,
      environment: 'happy-dom',
      include: ['src/**/*.test.{ts,tsx}'],
      setupFiles: ['./src/test/setup.ts'],
      restoreMocks: true,
      unstubGlobals: true,
    },
  };
});
