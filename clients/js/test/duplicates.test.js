// Possible duplicates of a dispute being entered: the server's rule.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { duplicateMatches, DUPLICATE_WINDOW_DAYS, possibleDuplicates } from '../src/duplicates.js';
import * as R from '../src/record/index.js';
import { at, init, randomId } from './record-helpers.mjs';

before(() => init());

const DAY = 86_400_000;
const T0 = Date.parse('2025-05-01T08:00:00Z');
const VILLAGE = '500110101001';

/** The summary of a real dispute document. */
async function summary({ village = VILLAGE, names, created = T0, duplicateOf = null, id, category = 'neighbor', notDuplicateOf }) {
  let doc = R.createDispute(null, at('li', created), {
    village,
    title: '纠纷',
    category,
    risk: 'low',
    parties: names.map((name) => ({ name, role: 'other' })),
  });
  if (duplicateOf) doc = R.setDuplicateOf(doc, at('li', created + 1), duplicateOf);
  if (notDuplicateOf) doc = R.markNotDuplicate(doc, at('li', created + 2), notDuplicateOf);
  return R.summarize(doc, id ?? (await randomId()));
}

test('same village, a shared party name (trimmed, any case), within the window', async () => {
  const a = await summary({ names: ['张三', 'Li Si'] });
  const b = await summary({ names: ['  li si '], created: T0 - DUPLICATE_WINDOW_DAYS * DAY });
  const c = await summary({ names: ['王五'] });
  const d = await summary({ names: ['张三'], village: '500110101002' });
  const e = await summary({ names: ['张三'], created: T0 + (DUPLICATE_WINDOW_DAYS + 1) * DAY });
  const visit = R.summarize(
    R.createVisit(null, at('li', T0), { village: VILLAGE, visitedAt: T0, household: '张三', sentiment: 'neutral' }),
    await randomId(),
  );
  const draft = { village: VILLAGE, parties: [{ name: '张三 ' }, { name: 'LI SI' }, { name: '  ' }], reportedAt: T0 };
  assert.deepEqual(possibleDuplicates(draft, [a, b, c, d, e, visit]), [b.id, a.id]);
  const [first] = duplicateMatches(draft, [a, b]);
  assert.deepEqual(first.sharedNames, ['li si']);
  assert.equal(first.daysApart, DUPLICATE_WINDOW_DAYS);
  assert.deepEqual(possibleDuplicates({ ...draft, parties: [{ name: '' }] }, [a, b]), []);
  assert.deepEqual(possibleDuplicates({ ...draft, id: a.id }, [a]), []);
});

test('a case linked as a duplicate is represented by the case it points to', async () => {
  const original = await summary({ names: ['张三'] });
  const copy = await summary({ names: ['张三'], duplicateOf: original.id });
  const draft = { village: VILLAGE, parties: [{ name: '张三' }], reportedAt: T0 };
  assert.deepEqual(possibleDuplicates(draft, [original, copy]), [original.id]);
  // A link to a case that is not there hides nothing.
  const dangling = await summary({ names: ['张三'], duplicateOf: await randomId() });
  assert.deepEqual(possibleDuplicates(draft, [dangling]), [dangling.id]);
  // In a cycle of links one case (the smallest id) still counts.
  const [x, y] = [await randomId(), await randomId()];
  const cycle = [await summary({ names: ['张三'], id: x, duplicateOf: y }), await summary({ names: ['张三'], id: y, duplicateOf: x })];
  assert.equal(possibleDuplicates(draft, cycle).length, 1);
});

test('a different category is a different dispute; each match says why it is offered', async () => {
  const same = await summary({ names: ['张三'], created: T0 - 2 * DAY });
  const other = await summary({ names: ['张三'], category: 'land' });
  const draft = { village: VILLAGE, category: 'neighbor', parties: [{ name: '张三' }], reportedAt: T0 };
  assert.deepEqual(possibleDuplicates(draft, [same, other]), [same.id]);
  const [why] = duplicateMatches(draft, [same, other]);
  assert.deepEqual({ names: why.sharedNames, category: why.category, days: why.daysApart }, { names: ['张三'], category: 'neighbor', days: 2 });
  // While the cadre has not chosen a category, cases of every category are offered.
  assert.deepEqual(possibleDuplicates({ ...draft, category: null }, [same, other]), [same.id, other.id]);
});

test('a pair judged "not a duplicate" is never offered again, whichever case holds the mark', async () => {
  const [x, y] = [await randomId(), await randomId()];
  const marked = await summary({ names: ['张三'], id: x, notDuplicateOf: y });
  const plain = await summary({ names: ['张三'], id: y });
  // The draft is the unmarked case: the mark on the other one counts.
  assert.deepEqual(possibleDuplicates({ village: VILLAGE, category: 'neighbor', parties: [{ name: '张三' }], reportedAt: T0, id: y }, [marked, plain]), []);
  // The draft is the marked case: its own marks count.
  const own = { village: VILLAGE, category: 'neighbor', parties: [{ name: '张三' }], reportedAt: T0, id: x, notDuplicates: marked.notDuplicates };
  assert.deepEqual(possibleDuplicates(own, [marked, plain]), []);
  // Without the mark they are offered.
  assert.deepEqual(possibleDuplicates({ ...own, notDuplicates: [] }, [marked, plain]), [y]);
});
