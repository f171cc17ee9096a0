// One lint config for the repo. The core (workers/, schemas/, adapters/ports.ts) must stay runtime-agnostic:
// it runs unchanged on Workers, so Node built-ins and cloud SDKs are banned there.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const nodeOnly = {
  patterns: [
    { group: ['node:*'], message: 'The core runs on Workers too: use Web-standard APIs.' },
    { group: ['@google-cloud/*', '@aws-sdk/*', '@hono/node-server'], message: 'SDKs stay in adapters.' },
  ],
};

export default tseslint.config(
  {
    ignores: ['node_modules', 'dist', '.wrangler', '.dropgate', 'bench/.data', 'test/workerd/generated/*.js'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { files: ['bin/**/*.js', '*.js'], languageOptions: { globals: globals.node } },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['workers/**/*.ts', 'schemas/**/*.ts', 'adapters/ports.ts'],
    ignores: ['**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', nodeOnly] },
  },
);
