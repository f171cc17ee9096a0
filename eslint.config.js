// One lint config for the repo. The core (workers/, schemas/, adapters/ports.ts and adapters/errors.ts, and
// the HTTP sinks Workers publish with) must stay runtime-agnostic: it runs unchanged on Workers without Node
// compatibility, so Node's globals, its built-in modules (bare or `node:`) and cloud SDKs are banned there.
// tsconfig.core.json checks the same files without Node's types; test/unit/boundary.test.ts proves both
// catch a Node-only module.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export const coreFiles = [
  'workers/**/*.ts',
  'schemas/**/*.ts',
  'adapters/ports.ts',
  'adapters/errors.ts',
  'adapters/retry.ts',
  // The sinks Workers publish to Pub/Sub and SQS with, and what they share with the SDKs' sinks.
  'adapters/event-sink/*.ts',
  'adapters/event-sink/pubsub/pubsub-sink.ts',
  'adapters/event-sink/pubsub/pubsub-rest-event-sink.ts',
  'adapters/event-sink/pubsub/google-access-token.ts',
  'adapters/event-sink/pubsub/binary-message.ts',
  'adapters/event-sink/sqs/sqs-sink.ts',
  'adapters/event-sink/sqs/sqs-http-event-sink.ts',
];

const webOnly = 'The core runs on Workers too: use Web-standard APIs; Node-only code lives in app/node/.';
const nodeGlobals = [
  'Buffer',
  'process',
  'global',
  '__dirname',
  '__filename',
  'require',
  'module',
  'exports',
  'setImmediate',
  'clearImmediate',
];
const nodeModules = builtinModules.filter((name) => !name.startsWith('_'));

const nodeOnly = {
  paths: nodeModules.map((name) => ({ name, message: webOnly })),
  patterns: [
    { group: ['node:*'], message: webOnly },
    { group: ['@google-cloud/*', '@aws-sdk/*', '@hono/node-server'], message: 'SDKs stay in adapters.' },
  ],
};

const builtinSpecifier = new RegExp(`^(node:.*|(${nodeModules.join('|')})(/.*)?)$`);

export default tseslint.config(
  {
    ignores: [
      'node_modules',
      'dist',
      '.wrangler',
      '**/.wrangler',
      '.dropgate',
      'bench/.data',
      'test/workerd/generated/*.js',
    ],
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
    files: coreFiles,
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', nodeOnly],
      'no-restricted-globals': ['error', ...nodeGlobals.map((name) => ({ name, message: webOnly }))],
      'no-restricted-properties': [
        'error',
        ...nodeGlobals.map((property) => ({ object: 'globalThis', property, message: webOnly })),
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: `ImportExpression > Literal[value=${builtinSpecifier}]`,
          message: webOnly,
        },
      ],
    },
  },
);
