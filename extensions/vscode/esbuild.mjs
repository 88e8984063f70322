// Bundles the extension (Node, CommonJS, `vscode` external) and the webview (browser, IIFE); with
// --tests, only the unit tests (each bundles what it imports).
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

const tests = process.argv.includes('--tests');
// --production (what `npm run package` builds): minified, no source maps.
const production = process.argv.includes('--production');
if (tests) {
  // The extension's modules under test run in Node, without VS Code: `vscode` and the language client
  // are our fakes (test/fake/), which record what the module asks of them.
  const fakes = {
    name: 'fakes',
    setup(build) {
      build.onResolve({ filter: /^vscode$/ }, () => ({ path: path.resolve('test/fake/vscode.ts') }));
      build.onResolve({ filter: /^vscode-languageclient\/node$/ }, () => ({ path: path.resolve('test/fake/languageclient.ts') }));
    },
  };
  await esbuild.build({
    entryPoints: readdirSync('test').filter((name) => name.endsWith('.test.ts')).map((name) => `test/${name}`),
    plugins: [fakes],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node18',
    outdir: 'dist-test',
    logLevel: 'warning',
  });
} else {
  mkdirSync('dist', { recursive: true });
  copyFileSync('webview/chat.css', 'dist/chat.css');
  await esbuild.build({
    entryPoints: ['src/extension.ts'],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node18',
    external: ['vscode'],
    outfile: 'dist/extension.js',
    sourcemap: !production,
    minify: production,
    logLevel: 'warning',
  });
  await esbuild.build({
    entryPoints: ['webview/main.ts'],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2020',
    outfile: 'dist/webview.js',
    minify: production,
    logLevel: 'warning',
  });
}
