// The Rust server's own verdicts on hostile records, compared with this
// validator's, message for message. Needs the `fengqiao` binary: set
// FENGQIAO_BIN to it (skipped, loudly, without it; FENGQIAO_REQUIRE_ALL=1
// makes its absence a failure). A server runs on 127.0.0.1 with the
// development token and a small organisation; every case is uploaded
// through POST /v1/sync, whose answer carries the Rust validator's errors.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import bs58check from 'bs58check';
import { decode, encode } from 'cbor-x';
import * as R from '../src/record/index.js';
import { validate } from '../src/validate.js';
import { A, at, init } from './record-helpers.mjs';

const BIN = process.env.FENGQIAO_BIN ?? '';
const available = BIN !== '' && existsSync(BIN);
if (!available) {
  const why = `validate-server: skipped, FENGQIAO_BIN does not name the fengqiao binary (${JSON.stringify(BIN)})`;
  if (process.env.FENGQIAO_REQUIRE_ALL === '1') throw new Error(why);
  process.stderr.write(`${why}\n`);
}

const T0 = Date.parse('2025-05-01T08:00:00Z');
let server = null;
let base = '';
let dir = '';
let device = '';
let token = '';

before(async () => {
  await init();
  if (!available) return;
  dir = mkdtempSync(join(tmpdir(), 'fq-validate-server-'));
  server = spawn(BIN, ['serve', '--data', join(dir, 'data'), '--bind', '127.0.0.1:0', '--insecure-dev-token', 'devtoken'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  base = await new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${seen}`)), 20_000);
    const look = (chunk) => {
      seen += chunk;
      const m = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    server.stdout.on('data', look);
    server.stderr.on('data', look);
    server.on('exit', (code) => reject(new Error(`the server exited (${code}): ${seen}`)));
  });
  writeFileSync(join(dir, 'org.csv'), '500110,区\n500110101,镇\n500110101001,村一\n500110101002,村二\n500110102,镇二\n500110102001,村三\n500110102002,村四\n');
  const admin = (...args) => execFileSync(BIN, ['admin', '--server', base, '--data', join(dir, 'data'), ...args], { encoding: 'utf8' });
  admin('org', 'import', join(dir, 'org.csv'));
  admin('person', 'li', '李梅', '--scope', '500110101001');
  const enrolled = admin('enroll', '--person', 'li', '--role', 'cadre', '--scope', '500110101001');
  device = /** @type {RegExpExecArray} */ (/enrolled device ([0-9a-f-]{36})/.exec(enrolled))[1];
  token = /** @type {RegExpExecArray} */ (/\b(fq_\w+)/.exec(enrolled))[1];
});

after(() => {
  if (server) server.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const hexBytes = (hex) => Uint8Array.from(hex.match(/../g), (x) => parseInt(x, 16));

/** Uploads a document; the server's error for it, or null when stored. */
async function upload(id, doc, bearer = 'devtoken') {
  const body = encode({ v: 1, docs: [{ id, heads: A.getHeads(doc).map(hexBytes), changes: A.save(doc) }] });
  const res = await fetch(`${base}/v1/sync`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/cbor' },
    body,
  });
  const answer = decode(new Uint8Array(await res.arrayBuffer()));
  assert.ok(res.ok, `HTTP ${res.status}: ${JSON.stringify(answer)}`);
  return answer.docs?.find((d) => d.id === id)?.error ?? null;
}

/** The Rust verdict and ours on `after` (stored over `previous`). */
async function verdicts(after, previous = null) {
  const id = bs58check.encode(crypto.getRandomValues(new Uint8Array(16)));
  if (previous) assert.equal(await upload(id, previous), null, 'the previous version is stored');
  const error = await upload(id, after);
  const rust = error === null ? null : error.code === 'invalid_record' ? error.message : `${error.code}: ${error.message}`;
  const errors = validate(after, previous, A.save(after).length);
  return { rust, js: errors.length === 0 ? null : errors.map((e) => e.message).join('; ') };
}

const author = (ms) => at('li', ms);
const dispute = () =>
  R.createDispute(null, author(T0), {
    village: '500110101001',
    title: '纠纷',
    description: 'd',
    category: 'land',
    risk: 'low',
    parties: [
      { name: '张三', role: 'applicant' },
      { name: '李四', role: 'respondent' },
    ],
  });
const visit = () =>
  R.createVisit(null, author(T0), {
    village: '500110101001',
    visitedAt: T0,
    household: '王家',
    topics: ['health'],
    sentiment: 'neutral',
    followUp: { needed: true },
  });
const raw = (doc, fn) => A.change(doc, () => fn(A.getBackend(doc)));
const edit = (doc, fn) => A.change(A.clone(doc), fn);
const concurrent = (doc, left, right) =>
  A.merge(A.change(A.clone(doc, { actor: '01'.repeat(16) }), left), A.change(A.clone(doc, { actor: '02'.repeat(16) }), right));

/** [name, () => [after, previous?]] */
const CASES = [
  ['valid dispute', () => [dispute()]],
  ['valid visit', () => [visit()]],
  ['hostile dispute fields', () => [A.change(dispute(), (d) => {
    delete d.title;
    d.risk = 'severe';
    d.category = 3;
    d.parties[1].role = 'judge';
    d.parties.push({ role: 'other' });
    d.parties.push('张五');
    d.events.push({ at: T0, by: 'li', kind: 'escalated' });
    d.events.push({ at: 'noon', by: 'li', kind: 'note', satisfied: 'yes', level: 'province' });
    d.assignees.li = 'yes';
    d.assignees['  '] = true;
    d.assignees['a"b\n\u0301\u200b'] = 1;
  })]],
  ['hostile visit fields', () => [A.change(visit(), (d) => {
    d.topics.weather = true;
    d.topics['  '] = true;
    d.household = '   ';
    d.followUp.needed = 1;
    delete d.followUp.done;
    d.linkedDispute = 'nope';
    d.group = 5;
  })]],
  ['every value type', () => [raw(dispute(), (h) => {
    h.put('_root', 'schema', 2, 'int');
    h.put('_root', 'createdAt', NaN, 'f64');
    h.put('_root', 'createdBy', '  ', 'str');
    h.put('_root', 'description', new Uint8Array([1]), 'bytes');
    h.put('_root', 'title', null, 'null');
    h.put('_root', 'risk', 5, 'counter');
    h.put('_root', 'category', 1.5, 'f64');
    h.put('_root', 'links', 7, 'uint');
  })]],
  ['times of every numeric form', () => [raw(visit(), (h) => {
    h.put('_root', 'visitedAt', 2n ** 63n, 'uint');
    h.put('_root', 'schema', 1.0000001, 'f64');
    h.put(h.getAll('_root', 'followUp')[0][1], 'dueAt', -1.5, 'f64');
  })]],
  ['village codes', () => [raw(dispute(), (h) => h.put('_root', 'village', '500110000001', 'str'))]],
  ['non-digit village', () => [raw(dispute(), (h) => h.put('_root', 'village', '村村村村', 'str'))]],
  ['long strings and keys anywhere', () => [raw(A.change(dispute(), (d) => {
    d.title = 'x'.repeat(20001);
    d.extra = { nested: ['🙂'.repeat(20001)] };
  }), (h) => {
    const m = h.putObject('_root', 'x', {});
    h.put(m, 'k'.repeat(20001), 'v', 'str');
  })]],
  ['too much text', () => [raw(dispute(), (h) => {
    for (let i = 0; i < 11; i++) h.put('_root', `f${i}`, 'y'.repeat(19000), 'str');
  })]],
  ['too many parties', () => [A.change(dispute(), (d) => {
    for (let i = 0; i < 50; i++) d.parties.push({ name: `人${i}`, role: 'other' });
  })]],
  ['document ids', () => [A.change(dispute(), (d) => {
    d.links.duplicateOf = '2iaw';
    for (const k of ['0OIl', "ab'c", 'a\\b', 'x\nb', 'é0', '', '1', '11111', 'z'.repeat(140)]) d.links.related[k] = true;
  })]],
  ['a fixed field changed', () => {
    const d = dispute();
    return [edit(d, (x) => { x.village = '500110101002'; }), d];
  }],
  ['a fixed field removed', () => {
    const d = dispute();
    return [edit(d, (x) => { delete x.createdBy; }), d];
  }],
  ['a fixed time as an integer', () => {
    const d = dispute();
    return [raw(A.clone(d), (h) => h.put('_root', 'createdAt', T0, 'int')), d];
  }],
  ['fixed fields replaced by odd values', () => {
    const d = dispute();
    return [raw(A.clone(d), (h) => {
      h.put('_root', 'createdAt', 1.5e21, 'f64');
      h.put('_root', 'schema', -0.0, 'f64');
      h.put('_root', 'createdBy', 2.5e-8, 'f64');
      h.put('_root', 'village', true, 'boolean');
    }), d];
  }],
  ['conflicting values at creation', () => [concurrent(dispute(), (x) => { x.createdBy = 'li'; }, (x) => { x.createdBy = 'mallory'; })]],
  ['timeline: removed, altered, replaced', () => {
    const d = R.addEvent(dispute(), author(T0 + 1), { kind: 'mediation', note: '调解' });
    return [edit(d, (x) => { x.events[1].note = '改写'; x.events.splice(0, 1); }), d];
  }],
  ['timeline replaced by a scalar', () => {
    const d = R.addEvent(dispute(), author(T0 + 1), { kind: 'mediation' });
    return [raw(A.clone(d), (h) => h.put(h.getAll('_root', 'events')[0][1], 0, 'gone', 'str')), d];
  }],
  ['concurrent lists and values', () => {
    const d = dispute();
    return [concurrent(d, (x) => {
      x.risk = 'high';
      x.events.push({ at: T0, by: 'x', kind: 'weird' });
    }, (x) => {
      x.risk = 'extreme';
      x.events = [];
    }), d];
  }],
  ['text in every string field', () => [A.change(dispute(), (d) => {
    d.type = 'dispute';
    d.village = '500110101001';
    d.createdBy = 'li';
  })]],
  ['not a record', () => [A.from({ hello: 'world' })]],
  ['an unknown type', () => [A.from({ type: 'meeting', schema: 1 })]],
];

for (const [name, make] of CASES) {
  test(`the Rust server and this validator agree: ${name}`, { skip: !available && 'no fengqiao binary' }, async () => {
    const [afterDoc, previous] = make();
    const { rust, js } = await verdicts(afterDoc, previous ?? null);
    assert.equal(js, rust);
  });
}

/** The server's summary of a record stored from `doc`, and ours. */
async function summaries(doc) {
  const id = bs58check.encode(crypto.getRandomValues(new Uint8Array(16)));
  assert.equal(await upload(id, doc), null, 'the record is stored');
  const res = await fetch(`${base}/v1/records/${id}`, { headers: { authorization: 'Bearer devtoken' } });
  assert.equal(res.status, 200);
  return { rust: await res.json(), js: R.summarize(doc, id) };
}

const SUMMARY_CASES = [
  ['a plain dispute', () => dispute()],
  ['two phones: events, risk, category, title', () => {
    const d = A.change(dispute(), (x) => { x.title = new A.ImmutableString('旧'); });
    return concurrent(
      d,
      (x) => {
        x.risk = 'high';
        x.category = 'debt';
        x.title = '甲';
        x.events.push({ at: T0 + 5, by: 'b', kind: 'resolved' });
        x.assignees.zhao = true;
      },
      (x) => {
        x.risk = 'medium';
        x.category = 'family';
        x.title = '乙';
        x.events.push({ at: T0 + 5, by: 'a', kind: 'escalated', level: 'court' });
        x.assignees.qian = true;
        x.assignees.zhao = false;
      },
    );
  }],
  ['timelines created twice, times of every form', () => raw(concurrent(
    dispute(),
    (x) => { x.events = [{ at: T0, by: 'li', kind: 'reported' }, { at: T0 + 10, by: 'li', kind: 'agreement' }]; },
    (x) => { x.events = [{ at: T0 + 10, by: 'li', kind: 'failed' }]; },
  ), (h) => {
    const lists = h.getAll('_root', 'events').map((v) => v[1]);
    const entry = h.insertObject(lists[0], 0, {});
    h.put(entry, 'at', T0 + 20.9, 'f64');
    h.put(entry, 'by', 'li', 'str');
    h.put(entry, 'kind', 'reopened', 'str');
    h.put(h.getAll(lists[1], 0)[0][1], 'note', 'n', 'str');
  })],
  ['links', () => {
    const other = bs58check.encode(crypto.getRandomValues(new Uint8Array(16)));
    return R.linkRelated(R.setDuplicateOf(dispute(), author(T0 + 1), other), author(T0 + 2), other);
  }],
  ['a plain visit', () => visit()],
  ['two phones: sentiment, topics, follow-up created twice', () => concurrent(
    visit(),
    (x) => {
      x.sentiment = 'urgent';
      x.topics = { land: true, policy: false };
      x.followUp = { needed: true, done: false, dueAt: new Date(T0 + 9) };
    },
    (x) => {
      x.sentiment = 'positive';
      x.topics.education = true;
      x.followUp = { needed: false, done: true, dueAt: new Date(T0 + 7) };
      x.visitedAt = new Date(T0 + 100);
    },
  )],
];

for (const [name, make] of SUMMARY_CASES) {
  test(`the Rust server and this library summarise alike: ${name}`, { skip: !available && 'no fengqiao binary' }, async () => {
    const { rust, js } = await summaries(make());
    assert.deepEqual(js, rust);
  });
}

test('the duplicate rule offers what the server pairs', { skip: !available && 'no fengqiao binary' }, async () => {
  const { possibleDuplicates } = await import('../src/duplicates.js');
  const DAY = 86_400_000;
  const newId = () => bs58check.encode(crypto.getRandomValues(new Uint8Array(16)));
  // Villages no other test uses: the server holds every record of this file.
  const specs = [
    { village: '500110102001', names: ['张三', 'Li Si'], at: T0 },
    { village: '500110102001', names: [' li si  '], at: T0 + 14 * DAY },
    { village: '500110102001', names: ['张三'], at: T0 + 15 * DAY },
    { village: '500110102001', names: ['王五', '张三'], at: T0 - 3 * DAY },
    { village: '500110102002', names: ['张三'], at: T0 },
    { village: '500110102001', names: ['ΣΑΣ'], at: T0 },
    { village: '500110102001', names: ['σας'], at: T0 + DAY },
    { village: '500110102001', names: ['  '], at: T0 },
    // Same parties, village and window, another category: another dispute.
    { village: '500110102001', names: ['张三'], at: T0 + DAY, category: 'land' },
    { village: '500110102001', names: ['Li Si'], at: T0 + 2 * DAY, category: 'land' },
  ];
  const ids = specs.map(newId);
  // A linked duplicate, and a cycle of two links.
  specs.push({ village: '500110102001', names: ['张三'], at: T0 + DAY, duplicateOf: ids[0] });
  const [c1, c2] = [newId(), newId()];
  specs.push({ village: '500110102001', names: ['李四'], at: T0 + 2 * DAY, duplicateOf: c2, id: c1 });
  specs.push({ village: '500110102001', names: ['李四'], at: T0 + 2 * DAY, duplicateOf: c1, id: c2 });
  // A pair an official judged not to be duplicates (the mark on the later one).
  const [n1, n2] = [newId(), newId()];
  specs.push({ village: '500110102001', names: ['赵六'], at: T0, id: n1 });
  specs.push({ village: '500110102001', names: ['赵六'], at: T0 + DAY, id: n2, notDuplicateOf: n1 });
  specs.push({ village: '500110102001', names: ['赵六'], at: T0 + 3 * DAY });
  const stored = [];
  for (const [i, spec] of specs.entries()) {
    const id = spec.id ?? ids[i] ?? newId();
    let doc = R.createDispute(null, author(spec.at), {
      village: spec.village,
      title: `案件${i}`,
      category: spec.category ?? 'other',
      risk: 'low',
      parties: spec.names.map((name) => ({ name: name.trim() === '' ? '无名' : name, role: 'other' })),
    });
    if (spec.names.some((n) => n.trim() === '')) doc = A.change(doc, (x) => { x.parties[0].name = new A.ImmutableString(spec.names[0]); });
    if (spec.duplicateOf) doc = R.setDuplicateOf(doc, author(spec.at + 1), spec.duplicateOf);
    if (spec.notDuplicateOf) doc = R.markNotDuplicate(doc, author(spec.at + 2), spec.notDuplicateOf);
    const error = await upload(id, doc);
    if (error === null) stored.push(R.summarize(doc, id));
  }
  const res = await fetch(`${base}/v1/duplicates?scope=500110102&from=0&to=${T0 + 365 * DAY}&listLimit=1000`, {
    headers: { authorization: 'Bearer devtoken' },
  });
  assert.equal(res.status, 200);
  const { pairs } = await res.json();
  assert.ok(pairs.length > 0);
  for (const s of stored.filter((x) => x.duplicateOf === null)) {
    const rust = pairs
      .filter((p) => p.first === s.id || p.second === s.id)
      .map((p) => (p.first === s.id ? p.second : p.first))
      .sort();
    const draft = {
      village: s.village,
      category: s.category,
      parties: s.partyNames.map((name) => ({ name })),
      reportedAt: s.createdAt,
      id: s.id,
      notDuplicates: s.notDuplicates,
    };
    assert.deepEqual(possibleDuplicates(draft, stored).sort(), rust, s.title);
    // Why: the pair carries the category both share.
    for (const p of pairs.filter((x) => x.first === s.id || x.second === s.id)) assert.equal(p.category, s.category);
  }
});

test('authorship: the server refuses what checkAuthorship refuses, in the same words', { skip: !available && 'no fengqiao binary' }, async () => {
  const { checkAuthorship } = await import('../src/validate.js');
  // Changes in the device's own name: its id and four bytes.
  const actor = `${device.replace(/-/g, '')}0a0b0c0d`;
  const create = (cadre) =>
    R.createDispute(null, at(cadre, T0), { village: '500110101001', title: '纠纷', category: 'land', risk: 'low' }, { actor });
  const cases = [
    ['in the holder\'s name', () => [create('li'), null]],
    ['created in another name', () => [create('mallory'), null]],
    ['an event in another name', () => {
      const d = create('li');
      return [R.addEvent(A.clone(d), at('mallory', T0 + 1), { kind: 'note' }), d];
    }],
  ];
  for (const [name, make] of cases) {
    const [afterDoc, previous] = make();
    const id = bs58check.encode(crypto.getRandomValues(new Uint8Array(16)));
    if (previous) assert.equal(await upload(id, previous, token), null, name);
    const error = await upload(id, afterDoc, token);
    const mine = checkAuthorship(afterDoc, previous, 'li');
    assert.equal(mine.length === 0 ? null : mine.map((e) => e.message).join('; '), error === null ? null : error.message, name);
    if (error !== null) assert.equal(error.code, 'forbidden', name);
  }
});
