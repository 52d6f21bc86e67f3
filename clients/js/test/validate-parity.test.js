// The parity command: the verdicts the Rust test compares with its own.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as R from '../src/record/index.js';
import { A, at, init } from './record-helpers.mjs';

before(() => init());

const T0 = Date.parse('2025-05-01T08:00:00Z');

test('parity-cli prints sorted [field, code] pairs per case and never crashes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fq-parity-'));
  try {
    const base = R.createDispute(null, at('li', T0), {
      village: '500110101001',
      title: '纠纷',
      category: 'land',
      risk: 'low',
      parties: [{ name: '张三', role: 'applicant' }],
    });
    const bad = A.change(A.clone(base), (d) => {
      d.risk = 'severe';
      d.village = '500110101002';
      d.topics = { weather: true };
      d.parties[0].role = 4;
    });
    const save = (name, doc) => writeFileSync(join(dir, name), A.save(doc));
    save('base.am', base);
    save('bad.am', bad);
    writeFileSync(join(dir, 'garbage.am'), new Uint8Array([0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, 0, 200, 1]));
    const cases = [
      { name: 'valid new', after: 'base.am', person: 'li' },
      { name: 'valid, wrong sender', after: 'base.am', person: 'mei' },
      { name: 'hostile edit', after: 'bad.am', before: 'base.am' },
      { name: 'not automerge', after: 'garbage.am' },
      { name: 'missing file', after: 'nowhere.am' },
    ];
    writeFileSync(join(dir, 'cases.json'), JSON.stringify(cases));
    const out = execFileSync(process.execPath, [new URL('./parity-cli.mjs', import.meta.url).pathname, dir], {
      encoding: 'utf8',
      env: { ...process.env, NODE_TEST_CONTEXT: '' },
    });
    const lines = out.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines, [
      { name: 'valid new', errors: [] },
      { name: 'valid, wrong sender', errors: [['createdBy', 'not_the_sender'], ['events[0].by', 'not_the_sender']] },
      {
        name: 'hostile edit',
        errors: [
          ['parties[0].role', 'wrong_type'],
          ['risk', 'unknown_value'],
          ['village', 'immutable_changed'],
        ],
      },
      { name: 'not automerge', errors: [['', 'bad_document']] },
      { name: 'missing file', errors: [['', 'bad_document']] },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
