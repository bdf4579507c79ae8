// Lint: typescript-eslint's strict rules, and no disable comment without a reason on the same line.
import js from '@eslint/js';
import comments from '@eslint-community/eslint-plugin-eslint-comments/configs';
import tseslint from 'typescript-eslint';

/** What core must not reach for: the file system, processes and the network come in as arguments. */
const PURE_BANS = ['fs', 'fs/promises', 'child_process', 'net', 'http', 'https', 'dgram', 'os'].flatMap((name) => [name, `node:${name}`]);

/** A no-restricted-imports block: files under `files` may not import from the folders `above` them. */
function layer(files, above, message, paths = []) {
  return {
    files: [files],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: paths.map((name) => ({ name, message: `${message}: files, processes and the network come in as arguments` })),
          patterns: [{ regex: `(^|/)(${above.join('|')})/`, message }],
        },
      ],
    },
  };
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/out/', 'coverage/', 'oclif.manifest.json'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  comments.recommended,
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setImmediate: 'readonly', AbortController: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', fetch: 'readonly', structuredClone: 'readonly', queueMicrotask: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', AbortSignal: 'readonly', Response: 'readonly', Request: 'readonly', Headers: 'readonly', performance: 'readonly', globalThis: 'readonly', require: 'readonly', module: 'writable', __dirname: 'readonly' } },
    rules: {
      '@eslint-community/eslint-comments/require-description': ['error', { ignore: [] }],
      // Non-null assertions follow noUncheckedIndexedAccess where the index is known; control characters in
      // regular expressions are what the sanitizers of hostile input look for.
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-control-regex': 'off',
      // Records keyed by handle or host name drop entries by key.
      '@typescript-eslint/no-dynamic-delete': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  // The layers (docs/reference.md, "Shape of the code" in the README): commands -> services -> (core,
  // adapters) -> lib. A module imports only its own layer and the ones below it.
  layer('src/lib/**', ['core', 'adapters', 'services', 'commands', 'hooks'], 'lib is the ground floor: it imports only lib'),
  layer('src/core/**', ['adapters', 'services', 'commands', 'hooks'], 'core is pure: it imports only core and lib', PURE_BANS),
  layer('src/adapters/**', ['services', 'commands', 'hooks'], 'adapters import only adapters, core and lib'),
  layer('src/services/**', ['commands', 'hooks'], 'services never import commands'),
  {
    // Tests read JSON documents of any shape, and the jest reporter is CommonJS.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-require-imports': 'off' },
  },
);
