// Builds the dashboard's chart library into server/assets/dashboard/echarts.js
// (embedded in the fengqiao binary). The rest of the dashboard is plain files
// served as written.
//
//   node build.mjs
//
// The output is deterministic: the same sources and lockfile give a
// byte-identical file. The libraries' licence comments are kept at its end.

import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const out = path.join(root, 'server/assets/dashboard/echarts.js');

// Apache ECharts is under the Apache License 2.0: its NOTICE travels with it.
const require = createRequire(import.meta.url);
const echartsDir = path.dirname(require.resolve('echarts/package.json', { paths: [here] }));
const notice = (await readFile(path.join(echartsDir, 'NOTICE'), 'utf8')).trim().replaceAll('*/', '* /');
const { version } = JSON.parse(await readFile(path.join(echartsDir, 'package.json'), 'utf8'));
const banner = `/*! Apache ECharts ${version} (bar and pie charts, canvas), Apache License 2.0:\n   https://www.apache.org/licenses/LICENSE-2.0\n\n${notice}\n*/`;

const result = await esbuild.build({
  entryPoints: [path.join(here, 'src/echarts.js')],
  bundle: true,
  format: 'iife',
  target: 'es2020',
  platform: 'browser',
  minify: true,
  charset: 'utf8',
  legalComments: 'eof',
  banner: { js: banner },
  sourcemap: false,
  write: false,
  define: { 'process.env.NODE_ENV': '"production"', __DEV__: 'false' },
  logLevel: 'warning',
  absWorkingDir: root,
});
if (result.outputFiles.length !== 1) {
  console.error(`build: expected one bundle, got ${result.outputFiles.length}`);
  process.exit(1);
}
const bytes = Buffer.from(result.outputFiles[0].contents);
await writeFile(out, bytes);
console.log(`dashboard charts → ${path.relative(process.cwd(), out)} (${bytes.length} bytes)`);
