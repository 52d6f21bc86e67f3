// Edits, reading, merge rules and what a merge did, on documents written
// here (the Rust cross-check is record-rust.test.js).
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as R from '../src/record/index.js';
import { validate } from '../src/validate.js';
import { A, at, init, randomId, seeded } from './record-helpers.mjs';

before(() => init());

const T0 = Date.parse('2025-05-01T08:00:00Z');
const HOUR = 3_600_000;
const VILLAGE = '500110101001';

function dispute(fields = {}) {
  return R.createDispute(
    null,
    at('li', T0),
    {
      village: VILLAGE,
      title: '宅基地边界纠纷',
      description: '两家争地',
      category: 'land',
      risk: 'medium',
      parties: [
        { name: '张三', role: 'applicant', phone: '13800000000' },
        { name: '李四', role: 'respondent' },
      ],
      ...fields,
    },
    { actor: 'aa'.repeat(16) },
  );
}

function visit(fields = {}) {
  return R.createVisit(null, at('wang', T0), {
    village: VILLAGE,
    visitedAt: T0,
    household: '王家',
    topics: ['livelihood'],
    sentiment: 'neutral',
    notes: '',
    ...fields,
  });
}

/** Two phones editing the same record offline, then exchanging changes. */
function concurrently(base, left, right) {
  let a = A.clone(base, { actor: '0a'.repeat(16) });
  let b = A.clone(base, { actor: '0b'.repeat(16) });
  a = left(a);
  b = right(b);
  const beforeA = a;
  const beforeB = b;
  const mergedA = A.merge(A.clone(a), b);
  const mergedB = A.merge(A.clone(b), a);
  return { beforeA, beforeB, mergedA, mergedB };
}

test('a dispute round-trips through saved bytes and reads as written', () => {
  const doc = R.assign(dispute({ assignees: ['zhao'] }), at('li', T0 + 1), 'li');
  const loaded = A.load(A.save(doc));
  const record = R.readRecord(loaded);
  assert.deepEqual(record.header, { schema: 1, village: VILLAGE, createdAt: T0, createdBy: 'li' });
  assert.equal(record.title, '宅基地边界纠纷');
  assert.equal(record.description, '两家争地');
  assert.deepEqual(record.parties, [
    { name: '张三', role: 'applicant', phone: '13800000000', note: null },
    { name: '李四', role: 'respondent', phone: null, note: null },
  ]);
  assert.deepEqual(record.assignees, ['li', 'zhao']);
  assert.equal(record.status, 'open');
  assert.deepEqual(R.readRecord(loaded), R.readRecord(doc));
  assert.deepEqual(validate(loaded, null, A.save(loaded).length), []);
});

test('a visit round-trips, with its follow-up', () => {
  let doc = visit({ group: '第三组', topics: ['health', 'land', 'health'], followUp: { needed: true, dueAt: T0 + 7 * 24 * HOUR } });
  doc = R.setTopics(doc, at('wang', T0 + HOUR), ['education', 'health']);
  const record = R.readRecord(A.load(A.save(doc)));
  assert.equal(record.kind, 'visit');
  assert.equal(record.group, '第三组');
  assert.deepEqual(record.topics, ['health', 'education']);
  assert.deepEqual(record.followUp, { needed: true, done: false, dueAt: T0 + 7 * 24 * HOUR });
  assert.equal(A.decodeChange(A.getLastLocalChange(doc)).message, 'topics +education −land');
  doc = R.markFollowUpDone(doc, at('wang', T0 + 2 * HOUR));
  const summary = R.summarize(doc, 'v1');
  assert.equal(summary.followUpDone, true);
  assert.equal(summary.title, '王家');
  assert.equal(summary.lastActivity, T0);
});

test('an edit that changes nothing returns the same document and adds no change', () => {
  const doc = dispute();
  assert.equal(R.setRisk(doc, at('li', T0 + 1), 'medium'), doc);
  assert.equal(R.setTitle(doc, at('li', T0 + 1), '宅基地边界纠纷'), doc);
  assert.equal(R.unassign(doc, at('li', T0 + 1), 'nobody'), doc);
  assert.equal(R.setDuplicateOf(doc, at('li', T0 + 1), null), doc);
  assert.equal(A.getAllChanges(doc).length, 1);
});

test('refused edits throw EditError with a stable code and leave the document as it was', () => {
  const doc = dispute();
  const heads = A.getHeads(doc);
  const refused = (fn, code) => assert.throws(fn, (e) => e instanceof R.EditError && e.code === code, code);
  refused(() => R.createDispute(doc, at('li', T0), { village: VILLAGE, title: 'x', category: 'land', risk: 'low' }), 'already_created');
  refused(() => R.setNotes(doc, at('li', T0), 'x'), 'not_editable');
  refused(() => R.setTitle(doc, at('li', T0), '   '), 'empty');
  refused(() => R.setTitle(doc, at('', T0), 'new'), 'empty');
  refused(() => R.addEvent(doc, at('li', T0), { kind: 'reported' }), 'reported_after_creation');
  refused(() => R.addEvent(doc, at('li', T0), { kind: 'escalated' }), 'missing_level');
  refused(() => R.addEvent(doc, at('li', T0), { kind: 'mediation', level: 'town' }), 'unexpected_level');
  refused(() => R.addEvent(doc, at('li', T0), { kind: 'note', satisfied: true }), 'unexpected_satisfied');
  refused(() => R.removeParty(doc, at('li', T0), 2), 'no_such_party');
  refused(() => R.markFollowUpDone(visit(), at('li', T0)), 'no_follow_up_needed');
  refused(() => R.setRisk(doc, at('li', T0), 'severe'), 'bad_value');
  refused(() => R.setRisk(doc, at('li', 1.5), 'high'), 'bad_value');
  refused(() => dispute({ village: '000000000000' }), 'bad_value');
  refused(() => R.linkRelated(doc, at('li', T0), 'not-an-id'), 'bad_value');
  refused(() => R.addEvent(A.from({ type: 'meeting' }), at('li', T0), { kind: 'note' }), 'not_editable');
  R.setRisk(doc, at('li', T0 + 1), 'high');
  refused(() => R.setRisk(doc, at('li', T0 + 2), 'low'), 'outdated');
  assert.deepEqual(A.getHeads(doc), heads);
  assert.equal(R.readRecord(doc).title, '宅基地边界纠纷');
  assert.equal(R.readRecord(doc).risk, 'medium');
});

test('two phones add events and disagree on risk: both events stay, the highest risk counts, both read the same', () => {
  const base = dispute();
  // Phone A writes more operations, so its risk is the one Automerge itself
  // would show; the merge rule must still pick the highest.
  const { beforeA, beforeB, mergedA, mergedB } = concurrently(
    base,
    (d) => R.setRisk(R.addEvent(d, at('li', T0 + HOUR), { kind: 'mediation', note: '村委会调解' }), at('li', T0 + HOUR), 'low'),
    (d) => R.setRisk(R.addEvent(d, at('mei', T0 + 2 * HOUR), { kind: 'escalated', level: 'town' }), at('mei', T0 + 2 * HOUR), 'high'),
  );
  assert.equal(String(mergedA.risk), 'low', 'the test needs Automerge to show the lower risk');
  for (const merged of [mergedA, mergedB]) {
    const record = R.readRecord(merged);
    assert.deepEqual(record.timeline.map((e) => [e.kind, e.by]), [['reported', 'li'], ['mediation', 'li'], ['escalated', 'mei']]);
    assert.equal(record.risk, 'high');
    assert.equal(record.status, 'escalated');
    assert.equal(record.escalationLevel, 'town');
    assert.deepEqual(validate(merged, base, A.save(merged).length), []);
  }
  assert.deepEqual(R.summarize(mergedA, 'x'), R.summarize(mergedB, 'x'));

  const newsA = R.describeMerge(beforeA, mergedA, 'li');
  assert.deepEqual(newsA.eventsAdded, [{ by: 'mei', kind: 'escalated', at: T0 + 2 * HOUR, level: 'town' }]);
  assert.equal(newsA.statusBefore, 'mediating');
  assert.equal(newsA.statusAfter, 'escalated');
  assert.equal(newsA.levelAfter, 'town');
  assert.equal(newsA.riskBefore, 'low');
  assert.equal(newsA.riskAfter, 'high');
  assert.deepEqual(newsA.riskConflict, ['low', 'high']);
  const newsB = R.describeMerge(beforeB, mergedB, 'mei');
  assert.deepEqual(newsB.eventsAdded, [{ by: 'li', kind: 'mediation', at: T0 + HOUR }]);
  assert.equal(newsB.riskBefore, 'high');
  assert.equal(newsB.riskAfter, 'high');
  assert.deepEqual(newsB.riskConflict, ['low', 'high']);
  assert.equal(newsB.statusBefore, newsB.statusAfter);

  // Setting the risk again settles the disagreement.
  const settled = R.setRisk(mergedA, at('li', T0 + 3 * HOUR), 'medium');
  assert.equal(R.readRecord(settled).risk, 'medium');
  assert.equal(A.decodeChange(A.getLastLocalChange(settled)).message, 'risk high → medium');
  assert.equal(R.describeMerge(settled, settled, 'li'), null);
});

test('other concurrent values read as Automerge shows them: the greatest operation id wins', () => {
  const base = A.change(dispute(), (d) => {
    d.title = new A.ImmutableString('旧标题');
  });
  const { mergedA, mergedB } = concurrently(
    base,
    (d) => R.setTitle(R.setCategory(d, at('li', T0 + 1), 'debt'), at('li', T0 + 1), '标题甲'),
    (d) => R.setTitle(R.setCategory(d, at('mei', T0 + 1), 'family'), at('mei', T0 + 1), '标题乙'),
  );
  for (const merged of [mergedA, mergedB]) {
    const record = R.readRecord(merged);
    assert.equal(record.category, String(merged.category));
    assert.equal(record.title, String(merged.title));
  }
  assert.equal(R.readRecord(mergedA).category, 'family');
});

test('concurrent edits of one text merge character by character', () => {
  const base = dispute({ description: '两家因宅基地边界发生争执' });
  const { mergedA, mergedB } = concurrently(
    base,
    (d) => R.setDescription(d, at('li', T0 + 1), '张李两家因宅基地边界发生争执'),
    (d) => R.setDescription(d, at('mei', T0 + 1), '两家因宅基地边界发生争执，已调解一次'),
  );
  assert.equal(R.readRecord(mergedA).description, '张李两家因宅基地边界发生争执，已调解一次');
  assert.equal(R.readRecord(mergedB).description, R.readRecord(mergedA).description);
  // Characters outside the Basic Multilingual Plane count as one.
  const emoji = R.setDescription(mergedA, at('li', T0 + 2), '张李🙂两家因宅基地边界发生争执，已调解一次🙂');
  assert.equal(R.readRecord(emoji).description, '张李🙂两家因宅基地边界发生争执，已调解一次🙂');
  assert.equal(A.decodeChange(A.getLastLocalChange(emoji)).ops.length, 2);
});

test('a title written as a plain string becomes a Text when edited', () => {
  const base = A.change(dispute(), (d) => {
    d.title = new A.ImmutableString('旧标题');
  });
  const edited = R.setTitle(base, at('li', T0 + 1), '新标题');
  assert.deepEqual(A.getBackend(edited).getAll('_root', 'title').map((v) => v[0]), ['text']);
  assert.equal(R.readRecord(edited).title, '新标题');
});

test('sets: a concurrent add survives a removal, copies created twice both count', () => {
  const base = dispute({ assignees: ['zhao'] });
  const { mergedA } = concurrently(
    base,
    (d) => R.unassign(d, at('li', T0 + 1), 'zhao'),
    (d) => R.assign(R.assign(d, at('mei', T0 + 1), 'zhao'), at('mei', T0 + 1), 'qian'),
  );
  // 'zhao' was already there on phone B, so it wrote nothing: the removal wins.
  assert.deepEqual(R.readRecord(mergedA).assignees, ['qian']);
  const twice = concurrently(
    visit({ topics: [] }),
    (d) => A.change(d, (x) => { x.topics = { health: true }; }),
    (d) => A.change(d, (x) => { x.topics = { land: true, policy: false }; }),
  );
  assert.deepEqual(R.readRecord(twice.mergedA).topics, ['land', 'health']);
});

test('visits: the most severe sentiment counts; a follow-up marked done stays done', () => {
  const base = visit({ followUp: { needed: true } });
  const { beforeA, mergedA } = concurrently(
    base,
    (d) => R.setSentiment(d, at('li', T0 + 1), 'positive'),
    (d) => R.markFollowUpDone(R.setSentiment(d, at('mei', T0 + 1), 'urgent'), at('mei', T0 + 1)),
  );
  const record = R.readRecord(mergedA);
  assert.equal(record.sentiment, 'urgent');
  assert.equal(record.followUp.done, true);
  const news = R.describeMerge(beforeA, mergedA, 'li');
  assert.deepEqual(news.sentimentConflict, ['positive', 'urgent']);
  assert.equal(news.sentimentAfter, 'urgent');
});

test('the status folds in timeline order (time, then cadre, then position), not list order', () => {
  let doc = dispute();
  doc = R.addEvent(doc, at('li', T0 + 3 * HOUR), { kind: 'escalated', level: 'district' });
  doc = R.addEvent(doc, at('li', T0 + 2 * HOUR), { kind: 'resolved' });
  assert.equal(R.readRecord(doc).status, 'escalated');
  doc = R.addEvent(doc, at('b', T0 + 4 * HOUR), { kind: 'failed' });
  doc = R.addEvent(doc, at('a', T0 + 4 * HOUR), { kind: 'agreement' });
  let record = R.readRecord(doc);
  assert.equal(record.status, 'failed');
  doc = R.addEvent(doc, at('c', T0 + 5 * HOUR), { kind: 'agreement' });
  doc = R.addEvent(doc, at('c', T0 + 6 * HOUR), { kind: 'resolved' });
  doc = R.addEvent(doc, at('c', T0 + 7 * HOUR), { kind: 'followup', satisfied: false });
  record = R.readRecord(doc);
  assert.equal(record.status, 'resolved');
  assert.equal(record.resolvedAt, T0 + 5 * HOUR);
  assert.equal(record.maxEscalationLevel, 'district');
  assert.equal(record.escalationLevel, null);
  assert.equal(R.summarize(doc).lastActivity, T0 + 7 * HOUR);
});

test('an escalation the level above returned does not count beyond the township', () => {
  let doc = dispute();
  doc = R.addEvent(doc, at('li', T0 + HOUR), { kind: 'escalated', level: 'district' });
  doc = R.addEvent(doc, at('d', T0 + 2 * HOUR), { kind: 'returned', note: '请镇里继续调处' });
  doc = R.addEvent(doc, at('li', T0 + 3 * HOUR), { kind: 'resolved' });
  assert.equal(R.readRecord(doc).maxEscalationLevel, null);
  assert.equal(R.summarize(doc).maxEscalationLevel, null);
  let accepted = dispute();
  accepted = R.addEvent(accepted, at('li', T0 + HOUR), { kind: 'escalated', level: 'district' });
  accepted = R.addEvent(accepted, at('d', T0 + 2 * HOUR), { kind: 'accepted' });
  assert.equal(R.summarize(accepted).maxEscalationLevel, 'district');
});

test('parties: removal by position among readable entries, links to other cases', async () => {
  let doc = dispute();
  doc = R.addParty(doc, at('li', T0 + 1), { name: ' 王五 ', role: 'other', note: '证人' });
  assert.equal(A.decodeChange(A.getLastLocalChange(doc)).message, 'party 王五 (other) added');
  doc = R.removeParty(doc, at('li', T0 + 2), 1);
  assert.deepEqual(R.readRecord(doc).parties.map((p) => p.name), ['张三', ' 王五 ']);
  const other = await randomId();
  doc = R.linkRelated(doc, at('li', T0 + 3), other);
  doc = R.setDuplicateOf(doc, at('li', T0 + 4), other);
  const record = R.readRecord(doc);
  assert.deepEqual(record.related, [other]);
  assert.equal(record.duplicateOf, other);
  assert.equal(R.summarize(doc).duplicateOf, other);
  doc = R.setDuplicateOf(doc, at('li', T0 + 5), null);
  doc = R.unlinkRelated(doc, at('li', T0 + 6), other);
  assert.equal(R.readRecord(doc).duplicateOf, null);
  assert.deepEqual(R.readRecord(doc).related, []);
  assert.deepEqual(validate(doc, null, 0), []);
});

test('reading refuses what is not a record with a typed ReadError, and reads odd shapes', () => {
  const code = (doc) => {
    try {
      R.readRecord(doc);
      return 'read';
    } catch (error) {
      assert.ok(error instanceof R.ReadError, String(error));
      return error.code;
    }
  };
  assert.equal(code(A.from({})), 'not_a_record');
  assert.equal(code(A.from({ type: 5 })), 'not_a_record');
  assert.equal(code(A.from({ type: 'meeting' })), 'unknown_type');
  assert.equal(code(A.change(dispute(), (d) => { delete d.village; })), 'missing_field');
  assert.equal(code(A.change(dispute(), (d) => { d.village = '5001101010'; })), 'bad_village');
  assert.equal(code(A.change(dispute(), (d) => { d.createdAt = 'yesterday'; })), 'missing_field');
  assert.equal(code(A.change(dispute(), (d) => { d.createdBy = 7; })), 'missing_field');
  assert.equal(code(null), 'not_a_record');
  // Text where a scalar is expected and the reverse read the same; wrong
  // types in optional parts are left out.
  const odd = A.change(dispute(), (d) => {
    d.type = 'dispute'; // a Text object in Automerge 3
    d.risk = 'severe';
    d.category = 42;
    d.parties.push('not a party');
    d.parties.push({ name: 5, role: 'judge' });
    d.events.push({ at: 'later', kind: 'note' });
    d.events.push({ at: T0 + 1.75, kind: 'mediation' });
    d.assignees = 'everyone';
  });
  const record = R.readRecord(odd);
  assert.equal(record.risk, null);
  assert.equal(record.category, null);
  assert.deepEqual(record.parties.map((p) => [p.name, p.role]), [['张三', 'applicant'], ['李四', 'respondent'], ['', 'other']]);
  assert.deepEqual(record.events.map((e) => [e.kind, e.at, e.by]), [['reported', T0, 'li'], ['mediation', T0 + 1, '']]);
  assert.equal(record.status, 'mediating');
  assert.deepEqual(record.assignees, []);
});

test('reading and summarising random documents throws nothing but ReadError', () => {
  const rand = seeded(7);
  const pick = (xs) => xs[rand(xs.length)];
  const leaf = () =>
    pick([
      'dispute', 'visit', VILLAGE, '', 'x'.repeat(rand(5)), 1, -1, 1.5, NaN, true, null, new Date(T0),
      new A.ImmutableString('visit'), new Uint8Array([1, 2]), 2 ** 60, new A.Counter(3),
    ]);
  const keys = ['type', 'schema', 'village', 'createdAt', 'createdBy', 'title', 'risk', 'parties', 'events', 'links', 'topics', 'followUp', 'at', 'kind', 'name', 'role', 'related', 'duplicateOf', 'needed', 'dueAt'];
  const value = (depth) => {
    if (depth > 2 || rand(3) === 0) return leaf();
    if (rand(2) === 0) return Array.from({ length: rand(3) }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: rand(4) }, () => [pick(keys), value(depth + 1)]));
  };
  for (let i = 0; i < 300; i++) {
    const doc = A.from(Object.fromEntries(keys.filter(() => rand(2) === 0).map((k) => [k, k === 'type' ? pick(['dispute', 'visit', 3]) : k === 'village' ? VILLAGE : value(0)])));
    for (const fn of [() => R.readRecord(doc), () => R.summarize(doc)]) {
      try {
        fn();
      } catch (error) {
        assert.ok(error instanceof R.ReadError, `${error}`);
      }
    }
    assert.ok(Array.isArray(validate(doc, null, 0)));
  }
});

test('an old version of a document reads as it was, not as the newest', () => {
  const v1 = dispute();
  const v2 = R.setRisk(v1, at('li', T0 + 1), 'high');
  assert.equal(R.readRecord(v1).risk, 'medium');
  assert.equal(R.readRecord(v2).risk, 'high');
  assert.equal(R.describeMerge(v1, v2, 'someone').riskAfter, 'high');
  assert.deepEqual(validate(v1, null, 0), []);
});

test('overdue cases and follow-ups as the statistics count them', () => {
  const DAY = 24 * HOUR;
  const open = R.summarize(dispute());
  assert.equal(R.isOpen(open), true);
  assert.equal(R.isOverdue(open, T0 + 30 * DAY), false);
  assert.equal(R.isOverdue(open, T0 + 30 * DAY + 1), true);
  assert.equal(R.isOverdue(open, T0 + 3 * DAY, 2), true);
  const resolved = R.summarize(R.addEvent(dispute(), at('li', T0 + 1), { kind: 'resolved' }));
  assert.equal(R.isOverdue(resolved, T0 + 100 * DAY), false);
  const due = R.summarize(visit({ followUp: { needed: true, dueAt: T0 + DAY } }));
  assert.equal(R.followUpPending(due), true);
  assert.equal(R.followUpOverdue(due, T0 + DAY), false);
  assert.equal(R.followUpOverdue(due, T0 + DAY + 1), true);
  assert.equal(R.followUpPending(R.summarize(visit())), false);
  assert.equal(R.isOverdue(due, T0 + 100 * DAY), false);
});

test('the closed loop: two officials act offline, both events stay, both replicas read the same stage', async () => {
  const DAY = 24 * HOUR;
  const base = R.addEvent(dispute(), at('li', T0 + HOUR), { kind: 'escalated', level: 'town' });
  assert.equal(R.summarize(base).stage, 'pending');
  assert.equal(R.summarize(base).handlingLevel, 'town');
  const { beforeB, mergedA, mergedB } = concurrently(
    base,
    // Official A accepts, then assigns a handler.
    (d) => R.addEvent(
      R.addEvent(d, at('town-a', T0 + DAY), { kind: 'accepted', note: '同意受理' }),
      at('town-a', T0 + DAY + HOUR),
      { kind: 'assigned', assignee: 'mei' },
    ),
    // Official B, later the same day, returns it and sets a 督办 deadline.
    (d) => R.addEvent(
      R.addEvent(d, at('town-b', T0 + DAY + 2 * HOUR), { kind: 'returned', note: '属村级调解范围' }),
      at('town-b', T0 + DAY + 3 * HOUR),
      { kind: 'supervised', note: '请一周内办结', due: T0 + 8 * DAY },
    ),
  );
  for (const merged of [mergedA, mergedB]) {
    const summary = R.summarize(merged, 'x');
    // The return came after the acceptance: it no longer applies.
    assert.equal(summary.stage, 'handling');
    assert.equal(summary.stageSince, T0 + DAY + HOUR);
    assert.equal(summary.handlingLevel, 'town');
    assert.equal(summary.status, 'escalated');
    assert.equal(summary.supervisionDue, T0 + 8 * DAY);
    assert.deepEqual(summary.assignees, ['mei']);
    assert.equal(summary.eventCount, 6);
    assert.deepEqual(validate(merged, base, A.save(merged).length), []);
  }
  assert.deepEqual(R.summarize(mergedA, 'x'), R.summarize(mergedB, 'x'));
  // Official B's phone hears of A's acceptance and assignment.
  const news = R.describeMerge(beforeB, mergedB, 'town-b');
  assert.deepEqual(news.eventsAdded, [
    { by: 'town-a', kind: 'accepted', at: T0 + DAY },
    { by: 'town-a', kind: 'assigned', at: T0 + DAY + HOUR, assignee: 'mei' },
  ]);
  assert.equal(news.stageBefore, 'handling');
  assert.equal(news.stageAfter, 'handling');

  let done = R.addEvent(mergedA, at('mei', T0 + 3 * DAY), { kind: 'agreement', outcome: '达成协议' });
  assert.equal(R.summarize(done).stage, 'followup');
  assert.equal(R.summarize(done).supervisionDue, null);
  done = R.addEvent(done, at('mei', T0 + 4 * DAY), { kind: 'followup', satisfied: true });
  assert.equal(R.summarize(done).stage, 'resolved');
  done = R.addEvent(done, at('town-a', T0 + 5 * DAY), { kind: 'archived' });
  assert.equal(R.summarize(done).stage, 'archived');
  assert.equal(R.summarize(done).status, 'resolved');

  assert.throws(() => R.addEvent(base, at('town-a', T0), { kind: 'assigned' }), { code: 'missing_assignee' });
  assert.throws(() => R.addEvent(base, at('town-a', T0), { kind: 'supervised', note: 'x' }), { code: 'missing_due' });
  assert.throws(() => R.addEvent(base, at('town-a', T0), { kind: 'returned' }), { code: 'empty' });
  assert.throws(() => R.addEvent(base, at('town-a', T0), { kind: 'note', due: T0 }), { code: 'unexpected_due' });
  const other = await randomId();
  const marked = R.markNotDuplicate(base, at('town-a', T0 + DAY), other);
  assert.deepEqual(R.summarize(marked).notDuplicates, [other]);
  assert.equal(A.decodeChange(A.getLastLocalChange(marked)).message, `case ${other} marked not a duplicate`);
});
