// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/node_modules/**', 'bench/results/**', '.data/**', '**/*.config.*', 'eslint.config.js'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: {
        project: [
          './packages/contracts/tsconfig.test.json',
          './packages/mongo-embedded/tsconfig.test.json',
          './apps/api/tsconfig.test.json',
          './apps/web/tsconfig.json',
          './bench/tsconfig.json',
          './chaos/tsconfig.json',
        ],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Configuration is read and validated once, in the config module; nothing else reads the environment.
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read configuration through the config module.' },
      ],
    },
  },
  {
    files: [
      'apps/api/src/config.ts',
      'packages/mongo-embedded/src/cli.ts',
      'scripts/**',
      '**/*.test.ts',
      '**/test/**',
      '**/bench/**',
      'chaos/**',
    ],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['**/*.{js,mjs}'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['apps/web/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      // This rule only reports that the React Compiler would skip a component (e.g. one calling TanStack Virtual's
      // useVirtualizer); the dashboard is not built with the compiler, so there is nothing to act on.
      'react-hooks/incompatible-library': 'off',
    },
  },
);
