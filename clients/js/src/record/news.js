// What a merge did to a record the cadre holds: events other people added,
// and how the status, risk or sentiment moved, including a disagreement
// between phones that a merge rule settled ("phones disagreed on risk; the
// highest counts").
import * as F from './fields.js';
import { disagreement } from './merge.js';
import { ReadError, readRecord } from './read.js';
import { handleOf } from './value.js';
import { timelineOrder } from './status.js';

/**
 * @typedef {object} AddedEvent
 * @property {string} by the person who recorded it
 * @property {string} kind
 * @property {number} at
 * @property {string} [level] for an escalation
 * @property {string} [assignee] for an assignment (分派): the person assigned
 * @property {number} [due] for a supervision (督办): its deadline
 */

/**
 * @typedef {object} News
 * @property {AddedEvent[]} eventsAdded events the merge brought, by others, in timeline order
 * @property {string|null} statusBefore
 * @property {string|null} statusAfter
 * @property {string|null} levelBefore the level in effect when escalated
 * @property {string|null} levelAfter
 * @property {string|null} stageBefore the closed-loop stage
 * @property {string|null} stageAfter
 * @property {string|null} riskBefore
 * @property {string|null} riskAfter
 * @property {string[]|null} riskConflict the risks phones disagreed on (mildest first; the highest counts)
 * @property {string|null} sentimentBefore
 * @property {string|null} sentimentAfter
 * @property {string[]|null} sentimentConflict the sentiments phones disagreed on (the most severe counts)
 */

/**
 * @param {import('@automerge/automerge').Doc<unknown>} doc
 */
function read(doc) {
  try {
    return readRecord(doc);
  } catch (error) {
    if (error instanceof ReadError) return null;
    throw error;
  }
}

/**
 * @param {string[]|null} a
 * @param {string[]|null} b
 */
function sameList(a, b) {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * What changed between `before` (the record as this phone held it) and
 * `after` (the record once others' changes were merged), as seen by
 * `me` (the person holding this phone: their own events are not news).
 * Null when nothing worth telling changed, or when there was no record
 * before.
 * @param {import('@automerge/automerge').Doc<unknown>|null} before
 * @param {import('@automerge/automerge').Doc<unknown>} after
 * @param {string} me
 * @returns {News|null}
 */
export function describeMerge(before, after, me) {
  if (!before) return null;
  const old = read(before);
  const now = read(after);
  if (old === null || now === null || old.kind !== now.kind) return null;
  /** @type {News} */
  const news = {
    eventsAdded: [],
    statusBefore: null,
    statusAfter: null,
    levelBefore: null,
    levelAfter: null,
    stageBefore: null,
    stageAfter: null,
    riskBefore: null,
    riskAfter: null,
    riskConflict: null,
    sentimentBefore: null,
    sentimentAfter: null,
    sentimentConflict: null,
  };
  let changed = false;
  if (old.kind === 'dispute' && now.kind === 'dispute') {
    const known = new Set(old.events.map((e) => e.id));
    news.eventsAdded = now.events
      .filter((e) => !known.has(e.id) && e.by !== me)
      .sort(timelineOrder)
      .map((e) => {
        /** @type {AddedEvent} */
        const added = { by: e.by, kind: e.kind, at: e.at };
        if (e.level !== null) added.level = e.level;
        if (e.assignee !== null) added.assignee = e.assignee;
        if (e.due !== null) added.due = e.due;
        return added;
      });
    news.statusBefore = old.status;
    news.statusAfter = now.status;
    news.levelBefore = old.escalationLevel;
    news.levelAfter = now.escalationLevel;
    news.stageBefore = old.stage;
    news.stageAfter = now.stage;
    news.riskBefore = old.risk;
    news.riskAfter = now.risk;
    const conflictAfter = disagreement(handleOf(after), F.ROOT, F.RISK, 'risk');
    const conflictBefore = disagreement(handleOf(before), F.ROOT, F.RISK, 'risk');
    news.riskConflict = sameList(conflictAfter, conflictBefore) ? null : conflictAfter;
    changed =
      news.eventsAdded.length > 0 ||
      old.status !== now.status ||
      old.escalationLevel !== now.escalationLevel ||
      old.stage !== now.stage ||
      old.risk !== now.risk ||
      news.riskConflict !== null;
  } else if (old.kind === 'visit' && now.kind === 'visit') {
    news.sentimentBefore = old.sentiment;
    news.sentimentAfter = now.sentiment;
    const conflictAfter = disagreement(handleOf(after), F.ROOT, F.SENTIMENT, 'sentiment');
    const conflictBefore = disagreement(handleOf(before), F.ROOT, F.SENTIMENT, 'sentiment');
    news.sentimentConflict = sameList(conflictAfter, conflictBefore) ? null : conflictAfter;
    changed = old.sentiment !== now.sentiment || news.sentimentConflict !== null;
  }
  return changed ? news : null;
}
