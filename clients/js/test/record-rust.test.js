// Documents written by the Rust phone (`fengqiao field`, see
// record-fixtures/make.sh) read here as Rust reads them, validate, and the
// same edits made here write documents of exactly the same shape (field
// names, Text vs scalar strings, timestamps, sets) with the same change
// messages and times.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as R from '../src/record/index.js';
import { checkAuthorship, validate } from '../src/validate.js';
import { A, changes, fixture, init, ms, shape } from './record-helpers.mjs';

before(() => init());

const li = (iso) => ({ cadre: 'cadre-li', at: ms(iso) });
const wang = (iso) => ({ cadre: 'cadre-wang', at: ms(iso) });

/** The dispute of make.sh, step by step, written by this library. */
function jsDispute() {
  const steps = [];
  let doc = R.createDispute(null, li('2025-03-01T08:00+08:00'), {
    village: '500110101001',
    title: '宅基地边界纠纷 ',
    description: '两家争地',
    category: 'land',
    risk: 'medium',
    parties: [
      { name: '张三', role: 'applicant', phone: '13800000000' },
      { name: '李四', role: 'respondent' },
    ],
    assignees: ['li-si'],
  });
  steps.push(doc);
  doc = R.addEvent(doc, li('2025-03-02T09:30+08:00'), { kind: 'escalated', level: 'town', note: '需镇综治中心协调' });
  steps.push(doc);
  const third = li('2025-03-03T10:00+08:00');
  doc = R.setDescription(doc, third, '两家🙂争宅基地');
  doc = R.setRisk(doc, third, 'high');
  doc = R.addParty(doc, third, { name: '王五', role: 'other' });
  doc = R.unassign(doc, third, 'li-si');
  steps.push(doc);
  doc = R.addEvent(doc, li('2025-03-04T11:00+08:00'), { kind: 'followup', satisfied: true, outcome: '双方满意' });
  const fifth = li('2025-03-05T12:00+08:00');
  doc = R.setTitle(doc, fifth, '宅基地纠纷');
  doc = R.setCategory(doc, fifth, 'neighbor');
  doc = R.removeParty(doc, fifth, 0);
  steps.push(doc);
  return steps;
}

function jsVisit() {
  const steps = [];
  let doc = R.createVisit(null, wang('2025-03-10T15:00+08:00'), {
    village: '500110101002',
    visitedAt: ms('2025-03-10T15:00+08:00'),
    household: '王家',
    topics: ['health', 'livelihood'],
    sentiment: 'concern',
    notes: '老人看病难',
    followUp: { needed: true, dueAt: ms('2025-04-01T00:00+08:00') },
  });
  steps.push(doc);
  const second = wang('2025-03-11T09:00+08:00');
  doc = R.setNotes(doc, second, '老人看病难，已联系村医');
  doc = R.setSentiment(doc, second, 'urgent');
  doc = R.markFollowUpDone(doc, wang('2025-03-12T09:00+08:00'));
  steps.push(doc);
  return steps;
}

test('edits write what the Rust phone writes, with the same messages', () => {
  const dispute = jsDispute();
  dispute.forEach((doc, i) => {
    const rust = fixture(`dispute-${i + 1}.am`);
    assert.deepEqual(shape(doc), shape(rust), `dispute step ${i + 1}`);
    assert.deepEqual(changes(doc), changes(rust), `dispute step ${i + 1}`);
  });
  const visit = jsVisit();
  visit.forEach((doc, i) => {
    const rust = fixture(`visit-${i + 1}.am`);
    assert.deepEqual(shape(doc), shape(rust), `visit step ${i + 1}`);
    assert.deepEqual(changes(doc), changes(rust), `visit step ${i + 1}`);
  });
});

test('Rust-written records read and summarise as the Rust phone shows them', () => {
  const dispute = R.summarize(fixture('dispute-4.am'), 'id-1');
  assert.deepEqual(dispute, {
    id: 'id-1',
    kind: 'dispute',
    village: '500110101001',
    createdAt: ms('2025-03-01T08:00+08:00'),
    createdBy: 'cadre-li',
    lastActivity: ms('2025-03-04T11:00+08:00'),
    title: '宅基地纠纷',
    status: 'escalated',
    category: 'neighbor',
    risk: 'high',
    escalationLevel: 'town',
    maxEscalationLevel: 'town',
    resolvedAt: null,
    partyNames: ['李四', '王五'],
    assignees: [],
    eventCount: 3,
    duplicateOf: null,
    // Escalated to the town and not yet accepted there.
    stage: 'pending',
    stageSince: ms('2025-03-02T09:30+08:00'),
    handlingLevel: 'town',
    supervisionDue: null,
    notDuplicates: [],
    visitedAt: null,
    sentiment: null,
    topics: [],
    followUpNeeded: false,
    followUpDone: false,
    followUpDue: null,
    linkedDispute: null,
  });
  const record = R.readRecord(fixture('dispute-4.am'));
  assert.equal(record.kind, 'dispute');
  assert.equal(record.description, '两家🙂争宅基地');
  assert.deepEqual(
    record.timeline.map((e) => [e.kind, e.level, e.note, e.outcome, e.satisfied]),
    [
      ['reported', null, null, null, null],
      ['escalated', 'town', '需镇综治中心协调', null, null],
      ['followup', null, null, '双方满意', true],
    ],
  );
  const visit = R.summarize(fixture('visit-2.am'));
  assert.equal(visit.title, '王家');
  assert.equal(visit.sentiment, 'urgent');
  assert.deepEqual(visit.topics, ['livelihood', 'health']);
  assert.equal(visit.followUpNeeded, true);
  assert.equal(visit.followUpDone, true);
  assert.equal(visit.followUpDue, ms('2025-04-01T00:00+08:00'));
  assert.equal(R.readRecord(fixture('visit-2.am')).notes, '老人看病难，已联系村医');
});

test('Rust-written versions validate, and their successors keep the timeline', () => {
  let previous = null;
  for (let i = 1; i <= 4; i++) {
    const doc = fixture(`dispute-${i}.am`);
    assert.deepEqual(validate(doc, previous, A.save(doc).length), [], `dispute-${i}`);
    assert.deepEqual(checkAuthorship(doc, previous, 'cadre-li'), [], `dispute-${i}`);
    previous = doc;
  }
  const v1 = fixture('visit-1.am');
  const v2 = fixture('visit-2.am');
  assert.deepEqual(validate(v1, null, 1), []);
  assert.deepEqual(validate(v2, v1, 1), []);
  assert.deepEqual(checkAuthorship(v2, v1, 'cadre-wang'), []);
  assert.deepEqual(
    checkAuthorship(v1, null, 'cadre-li').map((e) => [e.field, e.code]),
    [['createdBy', 'not_the_sender']],
  );
});

test('a Rust-written record edited here and merged back keeps both sides', () => {
  const rust = fixture('dispute-2.am');
  const phone = A.clone(rust);
  const mine = R.addEvent(phone, li('2025-03-06T08:00+08:00'), { kind: 'mediation', note: '再次调解' });
  const theirs = fixture('dispute-4.am');
  const merged = A.merge(A.clone(mine), theirs);
  const read = R.readRecord(merged);
  assert.deepEqual(
    read.timeline.map((e) => e.kind),
    ['reported', 'escalated', 'followup', 'mediation'],
  );
  assert.equal(read.status, 'mediating');
  assert.deepEqual(validate(merged, theirs, A.save(merged).length), []);
});
