// The fast reading (one materialisation, concurrent values only where a
// merge rule needs them) must give exactly what the field-by-field reading
// gives, on random documents, merged conflicts and hostile keys.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { GiveUp, readFast } from '../src/record/fast.js';
import * as R from '../src/record/index.js';
import { ReadError, readSlowly } from '../src/record/read.js';
import { handleOf } from '../src/record/value.js';
import { A, at, init, seeded } from './record-helpers.mjs';

before(() => init());

const T0 = Date.parse('2025-05-01T08:00:00Z');
const VILLAGE = '500110101001';

/** The outcome of a reading: the record, or the ReadError's code and message. */
function outcome(fn) {
  try {
    return { record: fn() };
  } catch (error) {
    if (error instanceof ReadError) return { error: [error.code, error.message] };
    if (error instanceof GiveUp) return { gaveUp: true };
    throw error;
  }
}

/** Compares both readings of `doc`; whether the fast one decided. */
function same(doc, label) {
  const r = handleOf(doc);
  const fast = outcome(() => readFast(r, (code, message, field) => new ReadError(code, message, field)));
  const slow = outcome(() => readSlowly(r));
  if (fast.gaveUp) return false;
  assert.deepEqual(fast, slow, label);
  assert.deepEqual(outcome(() => R.readRecord(doc)), slow, label);
  return true;
}

const rng = seeded;

test('random documents read the same both ways', () => {
  const rand = rng(11);
  const pick = (xs) => xs[rand(xs.length)];
  const word = () => pick(['dispute', 'visit', 'low', 'high', 'medium', 'land', 'debt', 'judge', 'applicant', 'other', 'note', 'escalated', 'resolved', 'town', 'health', 'urgent', 'positive', '', ' ', '张三', 'constructor']);
  const leaf = () =>
    pick([
      word, word, word,
      () => new A.ImmutableString(word()),
      () => rand(3) - 1, () => T0 + rand(1000), () => 1.5, () => -0.0, () => NaN, () => Infinity, () => 2 ** 70,
      () => true, () => false, () => null, () => new Date(T0 + rand(100)), () => new Uint8Array([1]), () => new A.Counter(2),
      () => VILLAGE,
    ])();
  const keys = ['type', 'schema', 'village', 'createdAt', 'createdBy', 'title', 'description', 'category', 'risk', 'parties', 'events', 'links', 'assignees', 'topics', 'followUp', 'sentiment', 'household', 'visitedAt', 'notes', 'group', 'linkedDispute', 'at', 'by', 'kind', 'level', 'note', 'outcome', 'satisfied', 'name', 'role', 'phone', 'related', 'duplicateOf', 'needed', 'done', 'dueAt', 'health', 'zhao'];
  const value = (depth) => {
    const n = rand(6);
    if (depth > 3 || n < 2) return leaf();
    if (n < 4) return Array.from({ length: rand(4) }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: rand(6) }, () => [pick(keys), value(depth + 1)]));
  };
  const base = (kind) => {
    const header = { type: kind, schema: 1, village: VILLAGE, createdAt: new Date(T0), createdBy: 'li' };
    const body = Object.fromEntries(keys.filter(() => rand(3) === 0).map((k) => [k, value(1)]));
    return { ...body, ...Object.fromEntries(Object.entries(header).filter(() => rand(8) !== 0)) };
  };
  let decided = 0;
  for (let i = 0; i < 400; i++) {
    const doc = A.from(base(pick(['dispute', 'visit', 'dispute', 'visit', 'meeting'])));
    // Half of them get concurrent edits from two phones.
    let merged = doc;
    if (rand(2) === 0) {
      const a = A.change(A.clone(doc, { actor: '0a'.repeat(16) }), (d) => {
        for (let j = rand(4); j > 0; j--) d[pick(keys)] = value(2);
      });
      const b = A.change(A.clone(doc, { actor: '0b'.repeat(16) }), (d) => {
        for (let j = rand(4); j > 0; j--) d[pick(keys)] = value(2);
      });
      merged = A.merge(a, b);
    }
    // Keys plain JavaScript objects cannot hold, written as any client may.
    if (rand(8) === 0) {
      merged = A.change(merged, () => {
        const h = A.getBackend(merged);
        const target = pick(['_root', ...['assignees', 'topics', 'links', 'followUp'].flatMap((k) => h.getAll('_root', k).filter((v) => v[0] === 'map').map((v) => v[1]))]);
        if (rand(2) === 0) h.put(target, '__proto__', rand(2) === 0, 'boolean');
        else h.put(h.putObject(target, '__proto__', {}), 'title', 'evil', 'str');
      });
    }
    if (same(merged, `document ${i}`)) decided++;
  }
  assert.ok(decided > 250, `the fast reading decided only ${decided} of 400`);
});

test('record-shaped documents with odd values and conflicts read the same both ways', () => {
  const rand = rng(5);
  const pick = (xs) => xs[rand(xs.length)];
  const id = '3xBnNEnnHNU31hC9VodTwRioZhaa';
  const timeValue = () =>
    pick([() => new Date(T0 + rand(50)), () => T0 + rand(50), () => T0 + rand(50) + 0.75, () => -2.5, () => NaN, () => 2 ** 70, () => 'noon', () => new A.Counter(1), () => 2n ** 64n - 1n])();
  const str = (xs) => (rand(3) === 0 ? new A.ImmutableString(pick(xs)) : pick(xs));
  const some = (xs) => (rand(5) === 0 ? pick([5, true, null, [], {}]) : str(xs));
  const bool = () => pick([true, false, true, 1, 'yes', null]);
  const event = () =>
    rand(6) === 0
      ? pick(['not an event', 3, []])
      : Object.fromEntries(
          [
            ['at', timeValue()],
            ['by', some(['li', 'mei', 'a', 'b', ''])],
            ['kind', some(['reported', 'mediation', 'resolved', 'failed', 'escalated', 'agreement', 'reopened', 'note', 'followup', 'party'])],
            ['level', some(['town', 'court', 'province'])],
            ['note', some(['备注', ''])],
            ['outcome', some(['结果'])],
            ['satisfied', bool()],
          ].filter(() => rand(4) !== 0),
        );
  const party = () =>
    rand(6) === 0 ? 'not a party' : { name: some(['张三', '李四', ' ']), role: some(['applicant', 'respondent', 'other', 'judge']), phone: some(['138']) };
  const set = (names) => Object.fromEntries(names.filter(() => rand(2) === 0).map((n) => [n, bool()]));
  const dispute = () => ({
    title: some(['标题', '']),
    description: some(['描述']),
    category: some(['land', 'debt', 'weather']),
    risk: some(['low', 'medium', 'high', 'severe']),
    parties: rand(8) === 0 ? 'none' : Array.from({ length: rand(4) }, party),
    assignees: rand(8) === 0 ? 7 : set(['zhao', 'qian', 'sun', ' ']),
    events: rand(8) === 0 ? {} : Array.from({ length: rand(5) }, event),
    links: rand(6) === 0 ? 'x' : { duplicateOf: some([id, 'bad']), related: set([id, 'bad', '']) },
  });
  const visit = () => ({
    visitedAt: timeValue(),
    household: some(['王家', ' ']),
    group: some(['一组']),
    topics: rand(8) === 0 ? [] : set(['health', 'land', 'weather', 'policy']),
    sentiment: some(['positive', 'urgent', 'neutral', 'grim']),
    notes: some(['n']),
    followUp: rand(8) === 0 ? true : { needed: bool(), done: bool(), dueAt: timeValue() },
    linkedDispute: some([id, 'bad']),
  });
  const edits = (kind) => (d) => {
    // Both phones often touch the same set member and recreate the timeline.
    for (const key of ['assignees', 'topics']) {
      if (d[key] && typeof d[key] === 'object' && !Array.isArray(d[key]) && rand(2) === 0) d[key][pick(['zhao', 'health'])] = bool();
    }
    if (kind === 'dispute' && rand(3) === 0) d.events = Array.from({ length: rand(3) + 1 }, event);
    for (let j = rand(4); j > 0; j--) {
      const body = kind === 'dispute' ? dispute() : visit();
      const key = pick(Object.keys(body));
      if (key === 'events' && Array.isArray(d.events) && rand(2) === 0) d.events.push(event());
      else if (key === 'assignees' && d.assignees && typeof d.assignees === 'object' && rand(2) === 0) d.assignees[pick(['zhao', 'qian'])] = bool();
      else d[key] = body[key];
    }
  };
  let decided = 0;
  for (let i = 0; i < 300; i++) {
    const kind = pick(['dispute', 'visit']);
    const header = { type: kind, schema: 1, village: VILLAGE, createdAt: new Date(T0), createdBy: 'li' };
    if (rand(10) === 0) header.createdAt = timeValue();
    if (rand(4) === 0) header.schema = pick([2, 1.5, -0.0, 2 ** 70, '1', NaN, 2n ** 63n - 1n]);
    let doc = A.from({ ...header, ...(kind === 'dispute' ? dispute() : visit()) });
    if (rand(3) !== 0) {
      doc = A.merge(
        A.change(A.clone(doc, { actor: '0a'.repeat(16) }), edits(kind)),
        A.change(A.clone(doc, { actor: '0b'.repeat(16) }), edits(kind)),
      );
    }
    if (same(doc, `record ${i}`)) decided++;
  }
  console.log("DECIDED", decided); assert.ok(decided > 200, `the fast reading decided only ${decided} of 300`);
});

test('records written by the library and merged read the same both ways', () => {
  let dispute = R.createDispute(null, at('li', T0), {
    village: VILLAGE,
    title: '纠纷',
    category: 'land',
    risk: 'low',
    parties: [{ name: '张三', role: 'applicant' }],
    assignees: ['zhao', 'qian'],
  });
  const a = R.addEvent(R.setRisk(R.unassign(A.clone(dispute, { actor: '01'.repeat(16) }), at('li', T0 + 1), 'zhao'), at('li', T0 + 1), 'high'), at('li', T0 + 2), { kind: 'resolved' });
  const b = R.addEvent(R.assign(R.setCategory(A.clone(dispute, { actor: '02'.repeat(16) }), at('mei', T0 + 1), 'debt'), at('mei', T0 + 1), 'sun'), at('mei', T0 + 2), { kind: 'escalated', level: 'town' });
  dispute = A.merge(a, b);
  assert.ok(same(dispute, 'dispute'));
  // Timelines created twice, and a party whose role was set concurrently.
  const twice = A.merge(
    A.change(A.clone(dispute, { actor: '03'.repeat(16) }), (d) => {
      d.events = [{ at: T0 + 9, by: 'x', kind: 'failed' }];
      d.parties[0].role = 'other';
    }),
    A.change(A.clone(dispute, { actor: '04'.repeat(16) }), (d) => {
      d.events = [{ at: T0 + 9, by: 'w', kind: 'agreement' }, 'not an event'];
      d.parties[0].role = 'judge';
    }),
  );
  same(twice, 'twice');
  assert.deepEqual(R.readRecord(twice).events.map((e) => e.kind), ['failed', 'agreement']);
  let visit = R.createVisit(null, at('li', T0), { village: VILLAGE, visitedAt: T0, household: '王家', topics: ['health'], sentiment: 'neutral', followUp: { needed: true } });
  visit = A.merge(
    R.setTopics(R.setSentiment(A.clone(visit, { actor: '05'.repeat(16) }), at('li', T0 + 1), 'urgent'), at('li', T0 + 1), ['land']),
    R.markFollowUpDone(R.setSentiment(A.clone(visit, { actor: '06'.repeat(16) }), at('li', T0 + 1), 'positive'), at('li', T0 + 1)),
  );
  assert.ok(same(visit, 'visit'));
});

test('a map key that JavaScript objects cannot hold makes the fast reading give up, not guess', () => {
  const doc = A.change(
    R.createDispute(null, at('li', T0), { village: VILLAGE, title: '纠纷', category: 'land', risk: 'low' }),
    (d) => {
      const h = A.getBackend(d);
      h.put(h.getAll('_root', 'assignees')[0][1], '__proto__', true, 'boolean');
      h.put(h.putObject('_root', '__proto__', {}), 'title', 'evil', 'str');
    },
  );
  const fast = outcome(() => readFast(handleOf(doc), (c, m) => new ReadError(c, m)));
  assert.equal(fast.gaveUp, true);
  const record = R.readRecord(doc);
  assert.equal(record.title, '纠纷');
  assert.deepEqual(record.assignees, ['__proto__']);
});
