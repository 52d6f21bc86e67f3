// Builds the field app into server/assets/field (embedded in the fengqiao binary).
//
//   node build.mjs                 production build into ../../server/assets/field
//   node build.mjs --mock --out D  development build against the in-app mock client
//                                  (src/dev/), never into server/assets/field
//
// The output is deterministic: the same sources and lockfile give byte-identical
// files. The version is a hash of every file's name and contents; it is written
// into sw.js (cache name) and assets.json, and nothing else varies between runs.

import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const production = path.join(root, 'server/assets/field');

const args = process.argv.slice(2);
const mock = args.includes('--mock');
const outFlag = args.indexOf('--out');
const out = outFlag >= 0 ? path.resolve(args[outFlag + 1] ?? '') : production;
if (outFlag >= 0 && !args[outFlag + 1]) fail('--out needs a directory');
if (mock && path.resolve(out) === production) {
  fail('a --mock build never goes into server/assets/field; pass --out DIR');
}

function fail(message) {
  console.error(`build: ${message}`);
  process.exit(1);
}

const require = createRequire(import.meta.url);

/** Where automerge.wasm lives in the installed @automerge/automerge package. */
function automergeWasm() {
  const entry = require.resolve('@automerge/automerge', {
    paths: [here, path.join(root, 'clients/js')],
  });
  // …/node_modules/@automerge/automerge/dist/<format>/entrypoints/… → package root
  let dir = path.dirname(entry);
  while (path.basename(dir) !== 'automerge' && dir !== path.dirname(dir)) dir = path.dirname(dir);
  return path.join(dir, 'dist/automerge.wasm');
}

async function bundle() {
  // The mock stands in for the client only (the bare package name); the
  // vocabulary stays the library's generated schema.json.
  const plugins = mock
    ? [
        {
          name: 'mock-client',
          setup(b) {
            b.onResolve({ filter: /^@fengqiao\/client$/ }, () => ({ path: path.join(here, 'src/dev/mock-client.js') }));
          },
        },
      ]
    : [];
  const result = await esbuild.build({
    entryPoints: [path.join(here, 'src/main.jsx')],
    bundle: true,
    format: 'esm',
    target: 'es2020',
    platform: 'browser',
    minify: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    charset: 'utf8',
    legalComments: 'none',
    sourcemap: false,
    write: false,
    plugins,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
    absWorkingDir: root,
  });
  if (result.outputFiles.length !== 1) fail(`expected one bundle, got ${result.outputFiles.length}`);
  return Buffer.from(result.outputFiles[0].contents);
}

async function main() {
  const src = (name) => readFile(path.join(here, 'src', name));
  const files = new Map([
    ['app.js', await bundle()],
    ['app.css', await src('app.css')],
    ['index.html', await src('index.html')],
    ['manifest.webmanifest', await src('manifest.webmanifest')],
    ['icon.svg', await src('icon.svg')],
    ['automerge.wasm', await readFile(automergeWasm())],
  ]);
  const swTemplate = await src('sw.js');

  const hash = createHash('sha256');
  for (const [name, bytes] of [...files, ['sw.js', swTemplate]].sort(([a], [b]) => (a < b ? -1 : 1))) {
    hash.update(`${name}\0${bytes.length}\0`);
    hash.update(bytes);
  }
  const version = hash.digest('hex').slice(0, 16);
  const names = [...files.keys(), 'sw.js'].sort();
  const sw = swTemplate
    .toString('utf8')
    .replace("'__VERSION__'", JSON.stringify(version))
    .replace("'__FILES__'", JSON.stringify(names.filter((n) => n !== 'sw.js')));
  if (sw.includes('__VERSION__') || sw.includes('__FILES__')) fail('sw.js placeholders not replaced');
  files.set('sw.js', Buffer.from(sw, 'utf8'));
  files.set('assets.json', Buffer.from(`${JSON.stringify({ version, files: names }, null, 2)}\n`, 'utf8'));

  await mkdir(out, { recursive: true });
  for (const name of await readdir(out)) {
    if (!files.has(name)) await rm(path.join(out, name), { recursive: true });
  }
  for (const [name, bytes] of files) await writeFile(path.join(out, name), bytes);
  const size = [...files.values()].reduce((n, b) => n + b.length, 0);
  console.log(`field app ${version}${mock ? ' (mock client)' : ''} → ${path.relative(process.cwd(), out) || '.'} (${files.size} files, ${size} bytes)`);
}

main().catch((e) => fail(e?.message ?? String(e)));
