#!/usr/bin/env node
// Verdicts of the JavaScript validator over a corpus, for the parity test
// that compares them with the Rust validator's.
//
//   node clients/js/test/parity-cli.mjs <dir>
//
// <dir>/cases.json = [{name, after: "file.am", before?: "file.am", person?: "id",
// now?: ms}] (Automerge saved bytes in files; `now` is the validating clock,
// against which recorded times are judged). Prints one JSON line per case:
// {"name": ..., "errors": [[field, code], ...]} sorted: the errors of
// validate (saved size: the size of the `after` file) and, when a person is
// given, of checkAuthorship. A document that cannot be loaded, or any
// exception while checking it, is reported as [["", "bad_document"]].
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { A, init } from '../src/automerge.js';
import { checkAuthorship, validate } from '../src/validate.js';

/**
 * @param {string} dir
 * @param {{name: string, after: string, before?: string, person?: string, now?: number}} c
 * @returns {Array<[string, string]>}
 */
function verdict(dir, c) {
  try {
    const bytes = new Uint8Array(readFileSync(join(dir, c.after)));
    const after = A.load(bytes);
    const before = c.before ? A.load(new Uint8Array(readFileSync(join(dir, c.before)))) : null;
    const errors = validate(after, before, bytes.length, undefined, typeof c.now === 'number' ? c.now : undefined);
    if (typeof c.person === 'string') errors.push(...checkAuthorship(after, before, c.person));
    /** @type {Array<[string, string]>} */
    const pairs = errors.map((e) => [e.field, e.code]);
    pairs.sort((x, y) => compare(x[0], y[0]) || compare(x[1], y[1]));
    return pairs;
  } catch {
    return [['', 'bad_document']];
  }
}

/**
 * Byte order of the UTF-8 forms (as Rust sorts strings).
 * @param {string} a
 * @param {string} b
 */
function compare(a, b) {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

async function main() {
  const dir = process.argv[2];
  if (!dir) {
    // Run by `node --test` as a file of the test folder: nothing to check.
    if (process.env.NODE_TEST_CONTEXT) return;
    process.stderr.write('usage: node parity-cli.mjs <dir with cases.json>\n');
    process.exit(2);
  }
  await init();
  const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8'));
  const out = [];
  for (const c of cases) out.push(JSON.stringify({ name: c.name, errors: verdict(dir, c) }));
  process.stdout.write(out.length > 0 ? `${out.join('\n')}\n` : '');
}

await main();
