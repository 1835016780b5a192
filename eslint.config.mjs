// Lint guards the layer boundaries of DESIGN.md §2 and the habits of STYLE.md §5.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Imports each layer may not make: imports point down only (DESIGN.md §2). */
const layerBans = [
  { dir: 'src/types', banned: ['raft', 'pki', 'runtime', 'manager', 'worker', 'api', 'events', 'cli', 'daemon'] },
  { dir: 'src/raft', banned: ['pki', 'runtime', 'manager', 'worker', 'api', 'events', 'cli', 'daemon'] },
  { dir: 'src/pki', banned: ['raft', 'runtime', 'manager', 'worker', 'api', 'events', 'cli', 'daemon'] },
  { dir: 'src/runtime', banned: ['raft', 'pki', 'manager', 'worker', 'api', 'events', 'cli', 'daemon'] },
  { dir: 'src/manager', banned: ['worker', 'runtime', 'api', 'events', 'cli', 'daemon'] },
  { dir: 'src/worker', banned: ['manager', 'raft', 'api', 'events', 'cli', 'daemon'] },
  { dir: 'src/api', banned: ['cli', 'daemon'] },
  { dir: 'src/events', banned: ['cli', 'daemon', 'api'] },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'eslint.config.mjs', '.ci/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true }],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']", message: 'Use an injected Random (DESIGN.md §6).' },
      ],
    },
  },
  // Determinism: the Raft core never reads the wall clock or sets timers (DESIGN.md §6).
  {
    files: ['src/raft/core/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'setImmediate'],
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'Use an injected Clock (DESIGN.md §6).' }],
    },
  },
  ...layerBans.map(({ dir, banned }) => ({
    files: [`${dir}/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: banned.map((layer) => ({
          group: [`**/${layer}`, `**/${layer}/**`],
          message: `${dir} may not import src/${layer} (DESIGN.md §2: imports point down only).`,
        })),
      }],
    },
  })),
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'cluster-tests/**/*.ts', 'tools/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
