// Validation of record documents: every code of the Rust validator, with
// its field paths, on hostile shapes.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as R from '../src/record/index.js';
import { checkAuthorship, FUTURE_ALLOWANCE_MILLIS, newDuplicateLinks, validate } from '../src/validate.js';
import { LIMITS } from '../src/vocab.js';
import { A, at, init, randomId } from './record-helpers.mjs';

before(() => init());

const T0 = Date.parse('2025-05-01T08:00:00Z');
const VILLAGE = '500110101001';

function dispute() {
  return R.createDispute(null, at('li', T0), {
    village: VILLAGE,
    title: '宅基地边界纠纷',
    description: '',
    category: 'land',
    risk: 'medium',
    parties: [
      { name: '张三', role: 'applicant' },
      { name: '李四', role: 'respondent' },
    ],
  });
}

function visit() {
  return R.createVisit(null, at('wang', T0), {
    village: VILLAGE,
    visitedAt: T0,
    household: '王家',
    topics: ['health'],
    sentiment: 'neutral',
    notes: '',
    followUp: { needed: true },
  });
}

/** The [field, code] pairs of the errors, sorted. */
const verdict = (errors) => errors.map((e) => [e.field, e.code]).sort((a, b) => (a[0] + a[1] < b[0] + b[1] ? -1 : 1));
const check = (doc, previous = null, limits = LIMITS) => verdict(validate(doc, previous, 100, limits));
/** A change made with the low-level handle, for exact value types. */
const raw = (doc, fn) => A.change(doc, () => fn(A.getBackend(doc)));

test('records written by the library are valid, new and edited', () => {
  const d = dispute();
  assert.deepEqual(check(d), []);
  const edited = R.addEvent(R.setRisk(d, at('li', T0 + 1), 'high'), at('li', T0 + 2), { kind: 'escalated', level: 'court' });
  assert.deepEqual(check(edited, d), []);
  assert.deepEqual(check(visit()), []);
});

test('missing fields, wrong types and unknown words are reported at their paths', () => {
  const bad = A.change(dispute(), (d) => {
    delete d.title;
    d.risk = 'severe';
    d.category = 3;
    d.parties[1].role = 'judge';
    d.parties.push({ role: 'other' });
    d.parties.push('张五');
    d.events.push({ at: T0, by: 'li', kind: 'escalated' });
    d.events.push({ at: 'noon', by: 'li', kind: 'note', satisfied: 'yes', level: 'province' });
    d.assignees.li = 'yes';
  });
  assert.deepEqual(check(bad), [
    ['assignees["li"]', 'wrong_type'],
    ['category', 'wrong_type'],
    ['events[1].level', 'missing_field'],
    ['events[2].at', 'wrong_type'],
    ['events[2].level', 'unknown_value'],
    ['events[2].satisfied', 'wrong_type'],
    ['parties[1].role', 'unknown_value'],
    ['parties[2].name', 'missing_field'],
    ['parties[3]', 'wrong_type'],
    ['risk', 'unknown_value'],
    ['title', 'missing_field'],
  ]);
  const message = validate(bad, null, 0).find((e) => e.field === 'risk').message;
  assert.equal(message, 'field "risk": "severe" is not one of low, medium, high');
});

test('Text where a scalar string is expected and the reverse are both strings', () => {
  const base = dispute();
  const doc = raw(A.clone(base), (h) => {
    h.putObject('_root', 'risk', 'high');
    h.put('_root', 'title', '标题', 'str');
    h.putObject('_root', 'type', 'dispute');
  });
  assert.deepEqual(check(doc, base), []);
  assert.equal(R.readRecord(doc).risk, 'high');
});

test('times read from timestamps, integers and finite floats only', () => {
  const doc = raw(visit(), (h) => {
    h.put('_root', 'visitedAt', T0, 'int');
    const f = h.getAll('_root', 'followUp')[0][1];
    h.put(f, 'dueAt', T0 + 0.5, 'f64');
  });
  assert.deepEqual(check(doc), []);
  const nan = raw(visit(), (h) => h.put('_root', 'visitedAt', NaN, 'f64'));
  assert.deepEqual(check(nan), [['visitedAt', 'wrong_type']]);
  const huge = raw(visit(), (h) => h.put('_root', 'visitedAt', 1e300, 'f64'));
  assert.deepEqual(check(huge), [['visitedAt', 'wrong_type']]);
});

test('visits: topics outside the vocabulary, blank names, follow-up flags, links', async () => {
  const bad = A.change(visit(), (d) => {
    d.topics.weather = true;
    d.topics['  '] = true;
    d.topics['a"b\n'] = false;
    d.household = '   ';
    d.followUp.needed = 1;
    delete d.followUp.done;
    d.linkedDispute = 'nope';
  });
  assert.deepEqual(check(bad), [
    ['followUp.done', 'missing_field'],
    ['followUp.needed', 'wrong_type'],
    ['household', 'empty'],
    ['linkedDispute', 'bad_document_id'],
    ['topics["  "]', 'empty'],
    ['topics["  "]', 'unknown_value'],
    ['topics["a\\"b\\n"]', 'unknown_value'],
    ['topics["weather"]', 'unknown_value'],
  ]);
  const id = await randomId();
  const links = A.change(dispute(), (d) => {
    d.links.duplicateOf = id.slice(0, -1) + (id.endsWith('a') ? 'b' : 'a');
    d.links.related[id] = true;
    d.links.related['0OIl'] = true;
  });
  assert.deepEqual(check(links), [
    ['links.duplicateOf', 'bad_document_id'],
    ['links.related["0OIl"]', 'bad_document_id'],
  ]);
});

test('limits: one string, all strings with map keys, parties, events, saved size, history', () => {
  const long = A.change(dispute(), (d) => {
    d.title = 'x'.repeat(LIMITS.maxTextChars + 1);
    d.extra = { nested: ['🙂'.repeat(LIMITS.maxTextChars + 1)] };
  });
  assert.deepEqual(check(long), [
    ['extra.nested[0]', 'too_long'],
    ['title', 'too_long'],
  ]);
  // Characters, not UTF-16 units: exactly at the limit is fine.
  assert.deepEqual(check(A.change(dispute(), (d) => { d.title = '🙂'.repeat(LIMITS.maxTextChars); })), []);

  const small = { ...LIMITS, maxTotalChars: 1000 };
  assert.deepEqual(check(dispute(), null, small), []);
  // Map keys count, in fields this version does not know too.
  assert.deepEqual(check(A.change(dispute(), (d) => { d.unknown = { ['k'.repeat(1000)]: 1 }; }), null, small), [['', 'too_much_text']]);

  const crowded = A.change(dispute(), (d) => {
    for (let i = 0; i < LIMITS.maxParties; i++) d.parties.push({ name: `人${i}`, role: 'other' });
  });
  assert.deepEqual(check(crowded), [['parties', 'too_many']]);
  const busy = R.addEvent(dispute(), at('li', T0), { kind: 'note' });
  assert.deepEqual(check(busy, null, { ...LIMITS, maxEvents: 1 }), [['events', 'too_many']]);

  assert.deepEqual(verdict(validate(dispute(), null, LIMITS.maxDocumentBytes + 1)), [['', 'too_large']]);
  const ops = A.stats(dispute()).numOps;
  assert.deepEqual(check(A.change(dispute(), (d) => { d.risk = 'nonsense'; }), null, { ...LIMITS, maxHistoryOps: ops }), [
    ['', 'too_much_history'],
  ]);
});

test('schema version and village code', () => {
  assert.deepEqual(check(raw(dispute(), (h) => h.put('_root', 'schema', 2, 'int'))), [['schema', 'unsupported_schema']]);
  assert.deepEqual(check(raw(dispute(), (h) => h.put('_root', 'schema', 1, 'f64'))), []);
  assert.deepEqual(check(raw(dispute(), (h) => h.put('_root', 'schema', '1', 'str'))), [['schema', 'wrong_type']]);
  for (const code of ['50011010100', '5001101010a1', '000110101001', '500110000001', '500110101000']) {
    assert.deepEqual(check(raw(dispute(), (h) => h.put('_root', 'village', code, 'str'))), [['village', 'bad_village_code']], code);
  }
});

test('fixed fields: changed, removed, or planted concurrently at creation', () => {
  const d = dispute();
  const edit = (fn) => A.change(A.clone(d), fn);
  const rawEdit = (fn) => raw(A.clone(d), fn);
  assert.deepEqual(check(edit((x) => { x.village = '500110101002'; }), d), [['village', 'immutable_changed']]);
  assert.deepEqual(check(edit((x) => { delete x.createdBy; }), d), [['createdBy', 'immutable_changed'], ['createdBy', 'missing_field']]);
  // The same time as an integer is the same value.
  assert.deepEqual(check(rawEdit((h) => h.put('_root', 'createdAt', T0, 'int')), d), []);
  assert.deepEqual(check(rawEdit((h) => h.put('_root', 'type', 'visit', 'str')), d).filter(([, c]) => c === 'immutable_changed'), [
    ['type', 'immutable_changed'],
  ]);

  let a = A.clone(d, { actor: '01'.repeat(16) });
  let b = A.clone(d, { actor: '02'.repeat(16) });
  a = A.change(a, (x) => { x.createdBy = 'li'; });
  b = A.change(b, (x) => { x.createdBy = 'mallory'; });
  const planted = A.merge(a, b);
  assert.deepEqual(check(planted), [['createdBy', 'conflicting_at_creation']]);
  assert.deepEqual(check(planted, d), [['createdBy', 'immutable_changed']]);
});

test('the timeline is append-only: events removed or altered are refused', () => {
  const d = R.addEvent(dispute(), at('li', T0 + 1), { kind: 'mediation', note: '调解' });
  const edit = (fn) => A.change(A.clone(d), fn);
  assert.deepEqual(check(edit((x) => { x.events.splice(0, 1); }), d), [['events[0]', 'timeline_rewritten']]);
  assert.deepEqual(check(edit((x) => { x.events[1].note = '改写'; }), d), [['events[1]', 'timeline_rewritten']]);
  assert.deepEqual(check(raw(A.clone(d), (h) => {
    const list = h.getAll('_root', 'events')[0][1];
    h.put(list, 0, 'gone', 'str');
  }), d), [['events[0]', 'timeline_rewritten'], ['events[0]', 'wrong_type']]);
  // A field this version does not know may be added to an event.
  assert.deepEqual(check(edit((x) => { x.events[1].photo = 'a.jpg'; }), d), []);
  // A whole new list replacing the old one removes every event.
  assert.deepEqual(check(edit((x) => { x.events = [{ at: T0, by: 'li', kind: 'reported' }]; }), d), [
    ['events[0]', 'timeline_rewritten'],
    ['events[1]', 'timeline_rewritten'],
  ]);
});

test('authorship: a new record and new events are in the sender\'s name', () => {
  const d = dispute();
  assert.deepEqual(verdict(checkAuthorship(d, null, 'li')), []);
  assert.deepEqual(verdict(checkAuthorship(d, null, 'mei')), [['createdBy', 'not_the_sender'], ['events[0].by', 'not_the_sender']]);
  const e = R.addEvent(d, at('mei', T0 + 1), { kind: 'note' });
  assert.deepEqual(verdict(checkAuthorship(e, d, 'mei')), []);
  assert.deepEqual(verdict(checkAuthorship(e, d, 'li')), [['events[1].by', 'not_the_sender']]);
  const odd = raw(A.clone(d), (h) => {
    const list = h.getAll('_root', 'events')[0][1];
    const entry = h.insertObject(list, 1, {});
    h.put(entry, 'by', 5, 'int');
  });
  const [error] = checkAuthorship(odd, d, 'li');
  assert.equal(error.message, 'field "events[1].by": is "5", but the sending device belongs to "li"; a device writes only in its holder\'s name');
});

test('new duplicate links', async () => {
  const d = dispute();
  const first = await randomId();
  const second = await randomId();
  const linked = R.setDuplicateOf(d, at('li', T0 + 1), first);
  assert.deepEqual(newDuplicateLinks(linked, d), [first]);
  assert.deepEqual(newDuplicateLinks(linked, linked), []);
  assert.deepEqual(newDuplicateLinks(R.setDuplicateOf(A.clone(linked), at('li', T0 + 2), second), linked), [second]);
  assert.deepEqual(newDuplicateLinks(R.setDuplicateOf(A.clone(linked), at('li', T0 + 2), null), linked), []);
});

test('times more than a day ahead of the clock are refused; deadlines may lie ahead', () => {
  const DAY = 86_400_000;
  const future = (doc, previous, now) => verdict(validate(doc, previous, 100, LIMITS, now));
  const d = dispute();
  assert.equal(FUTURE_ALLOWANCE_MILLIS, DAY);
  assert.deepEqual(future(d, null, T0), []);
  assert.deepEqual(future(d, null, T0 - DAY), []);
  assert.deepEqual(future(d, null, T0 - DAY - 1), [['createdAt', 'in_the_future'], ['events[0].at', 'in_the_future']]);
  const [first] = validate(d, null, 100, LIMITS, T0 - DAY - 1);
  assert.equal(
    first.message,
    'field "createdAt": is 2025-05-01T08:00:00.000Z, more than a day ahead of the clock that checks it (2025-04-30T07:59:59.999Z); is the device\'s clock right?',
  );
  // Without a clock, no time is judged (as before).
  assert.deepEqual(check(d), []);
  // A new event dated next year is refused, one an hour ahead is not.
  const nextYear = R.addEvent(A.clone(d), at('li', T0 + 365 * DAY), { kind: 'note' });
  assert.deepEqual(future(nextYear, d, T0), [['events[1].at', 'in_the_future']]);
  assert.deepEqual(future(R.addEvent(A.clone(d), at('li', T0 + 3_600_000), { kind: 'note' }), d, T0), []);
  // What is stored already is not judged again.
  assert.deepEqual(future(R.setTitle(A.clone(nextYear), at('li', T0), '改'), nextYear, T0), []);
  // A visit: when it happened counts, its follow-up's due date does not.
  const v = visit();
  assert.deepEqual(future(R.scheduleFollowUp(A.clone(v), at('wang', T0), T0 + 30 * DAY), v, T0), []);
  const moved = A.change(A.clone(v), (x) => { x.visitedAt = new Date(T0 + 3 * DAY); });
  assert.deepEqual(future(moved, v, T0), [['visitedAt', 'in_the_future']]);
});
