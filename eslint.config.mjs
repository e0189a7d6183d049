// ESLint for the TypeScript sources: the recommended JavaScript and
// typescript-eslint rules (syntax-only, so `npm test` stays fast on two
// cores), plus the few rules this codebase relies on. Formatting is
// Prettier's job (prettier.config.mjs), not the linter's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'build/**',
      'build-*/**',
      'prebuilds/**',
      'node_modules/**',
      '.node-versions/**',
      'docs/api/**',
      // Compile errors on purpose: test/types checks tsc reports each one.
      'test/types/fixtures/must-not-compile.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        clearImmediate: 'readonly',
        queueMicrotask: 'readonly',
        structuredClone: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        URL: 'readonly',
        SharedArrayBuffer: 'readonly',
        Atomics: 'readonly',
        WeakRef: 'readonly',
        FinalizationRegistry: 'readonly',
        __dirname: 'readonly',
        __filename: 'readonly',
        require: 'readonly',
        module: 'writable',
        performance: 'readonly',
        globalThis: 'readonly',
        DOMException: 'readonly',
        Event: 'readonly',
        EventTarget: 'readonly',
      },
    },
    rules: {
      // An unused binding is dead code; a leading underscore marks one that a
      // signature requires (a Protocol callback's argument, say).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Types are checked by tsc under strict settings; `any` stays an error
      // so that an escape hatch is always a visible, commented `unknown` cast.
      '@typescript-eslint/no-explicit-any': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      // The module's record of the loop running now is the one alias of `this`.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['runningCore'] }],
    },
  },
  {
    // CommonJS on purpose: the package's require() entry is tested from it.
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
