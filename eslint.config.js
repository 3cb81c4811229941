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
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: {
        project: [
          './packages/contracts/tsconfig.test.json',
          './packages/client/tsconfig.test.json',
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
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // Numbers and booleans read naturally in messages and log lines; objects, nullish values and unions with them
      // still have to be converted explicitly.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `() => void doSomething()` style shorthands in callbacks are idiomatic; statements returning void are not.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // Off: with `noUncheckedIndexedAccess` every indexed read is `T | undefined`, and inside a loop bounded by the
      // array's length (the engine's key comparisons, the ring buffer) `!` states a checked fact; rewriting those
      // reads as guards would add branches to the hottest paths without catching anything.
      '@typescript-eslint/no-non-null-assertion': 'off',
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
