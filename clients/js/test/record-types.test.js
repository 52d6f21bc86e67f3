// The type declarations of the records API (src/record/*.d.ts,
// src/validate.d.ts, src/vocab.d.ts, src/duplicates.d.ts) are generated from
// the JSDoc of the sources; this fails when they are stale. Regenerate (from
// clients/js, with the current declarations in place) with
//   npx tsc --allowJs --declaration --emitDeclarationOnly --module nodenext \
//     --moduleResolution nodenext --target es2022 --resolveJsonModule \
//     --skipLibCheck --outDir /tmp/dts src/duplicates.js src/validate.js \
//     src/vocab.js src/record/*.js
// and copy /tmp/dts/{duplicates,validate,vocab,record/*}.d.ts into src/.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('..', import.meta.url));
const OURS = ['duplicates', 'validate', 'vocab', ...readdirSync(join(here, 'src/record')).filter((f) => f.endsWith('.js')).map((f) => `record/${f.slice(0, -3)}`)];

test('the records API declarations match the sources', () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const out = mkdtempSync(join(tmpdir(), 'fq-dts-'));
  try {
    execFileSync(process.execPath, [
      tsc, '--allowJs', '--declaration', '--emitDeclarationOnly', '--module', 'nodenext', '--moduleResolution', 'nodenext',
      '--target', 'es2022', '--resolveJsonModule', '--skipLibCheck', '--outDir', out,
      ...OURS.map((f) => join(here, 'src', `${f}.js`)),
    ], { cwd: here, stdio: 'pipe' });
    for (const f of OURS) {
      const fresh = readFileSync(join(out, `${f}.d.ts`), 'utf8');
      const committed = readFileSync(join(here, 'src', `${f}.d.ts`), 'utf8');
      assert.equal(committed, fresh, `src/${f}.d.ts is stale`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
