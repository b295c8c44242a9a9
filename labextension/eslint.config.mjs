// Lint for the edgelab labextension (run by `jlpm run lint:check`, which the test suite calls).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['lib/', 'node_modules/', '../edgelab/labextension/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.ts'],
    rules: {
      '@typescript-eslint/no-namespace': 'off',
      eqeqeq: 'error',
      'no-restricted-properties': [
        'error',
        { property: 'innerHTML', message: 'use textContent: model names and paths must never be parsed as HTML' }
      ]
    }
  }
);
