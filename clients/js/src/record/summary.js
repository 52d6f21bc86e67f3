// The flat projection of a record (mirrors shared/src/record/projection.rs
// and the serde form of shared/src/summary.rs Summary): the same fields,
// camelCase, absent values as null. The phone's list views and search use
// it; `title` is the dispute title or the visited household, `partyNames`
// the names of the parties.
import { OVERDUE_DAYS } from '../vocab.js';
import { readRecord } from './read.js';

/**
 * @typedef {object} Summary
 * @property {string|null} id the document id (null when not given)
 * @property {'dispute'|'visit'} kind
 * @property {string} village
 * @property {number} createdAt
 * @property {string} createdBy
 * @property {number} lastActivity
 * @property {string} title dispute title, or the household of a visit
 * @property {string|null} status
 * @property {string|null} category
 * @property {string|null} risk
 * @property {string|null} escalationLevel
 * @property {string|null} maxEscalationLevel
 * @property {number|null} resolvedAt
 * @property {string[]} partyNames
 * @property {string[]} assignees
 * @property {number} eventCount
 * @property {string|null} duplicateOf
 * @property {string|null} stage the closed-loop stage (disputes)
 * @property {number|null} stageSince when the case entered its stage
 * @property {string|null} handlingLevel the level handling the case
 * @property {number|null} supervisionDue the 督办 deadline in effect
 * @property {string[]} notDuplicates cases judged not to be duplicates of this one
 * @property {number|null} visitedAt
 * @property {string|null} sentiment
 * @property {string[]} topics
 * @property {boolean} followUpNeeded
 * @property {boolean} followUpDone
 * @property {number|null} followUpDue
 * @property {string|null} linkedDispute
 */

/**
 * The summary of a hydrated record.
 * @param {import('./read.js').Record} record
 * @param {string|null} [id]
 * @returns {Summary}
 */
export function summaryOf(record, id = null) {
  const header = record.header;
  const common = {
    id,
    kind: record.kind,
    village: header.village,
    createdAt: header.createdAt,
    createdBy: header.createdBy,
    lastActivity: record.lastActivity,
  };
  if (record.kind === 'dispute') {
    return {
      ...common,
      title: record.title,
      status: record.status,
      category: record.category,
      risk: record.risk,
      escalationLevel: record.escalationLevel,
      maxEscalationLevel: record.maxEscalationLevel,
      resolvedAt: record.resolvedAt,
      partyNames: record.parties.map((p) => p.name),
      assignees: [...record.assignees],
      eventCount: record.events.length,
      duplicateOf: record.duplicateOf,
      stage: record.stage,
      stageSince: record.stageSince,
      handlingLevel: record.handlingLevel,
      supervisionDue: record.supervisionDue,
      notDuplicates: [...record.notDuplicates],
      visitedAt: null,
      sentiment: null,
      topics: [],
      followUpNeeded: false,
      followUpDone: false,
      followUpDue: null,
      linkedDispute: null,
    };
  }
  return {
    ...common,
    title: record.household,
    status: null,
    category: null,
    risk: null,
    escalationLevel: null,
    maxEscalationLevel: null,
    resolvedAt: null,
    partyNames: [],
    assignees: [],
    eventCount: 0,
    duplicateOf: null,
    stage: null,
    stageSince: null,
    handlingLevel: null,
    supervisionDue: null,
    notDuplicates: [],
    visitedAt: record.visitedAt,
    sentiment: record.sentiment,
    topics: [...record.topics],
    followUpNeeded: record.followUp.needed,
    followUpDone: record.followUp.done,
    followUpDue: record.followUp.dueAt,
    linkedDispute: record.linkedDispute,
  };
}

/**
 * The summary of a record document. Throws ReadError when the document is
 * not a record.
 * @param {import('@automerge/automerge').Doc<unknown>} doc
 * @param {string|null} [id] the document id to put in the summary
 * @returns {Summary}
 */
export function summarize(doc, id = null) {
  return summaryOf(readRecord(doc), id);
}

const MILLIS_PER_DAY = 86_400_000;

/**
 * Whether a dispute still needs work (any status but resolved), as the
 * statistics count it.
 * @param {Summary} summary
 */
export function isOpen(summary) {
  return summary.kind === 'dispute' && summary.status !== 'resolved';
}

/**
 * Whether a dispute is overdue: open and created more than `days` days
 * before `now` (the statistics' backlog rule).
 * @param {Summary} summary
 * @param {number} now milliseconds since the epoch
 * @param {number} [days] default: the schema's overdueDays
 */
export function isOverdue(summary, now, days = OVERDUE_DAYS) {
  return isOpen(summary) && summary.createdAt < now - days * MILLIS_PER_DAY;
}

/**
 * Whether a visit's follow-up was promised and is not done yet.
 * @param {Summary} summary
 */
export function followUpPending(summary) {
  return summary.kind === 'visit' && summary.followUpNeeded && !summary.followUpDone;
}

/**
 * Whether a pending follow-up was due before `now` (overdue, as the
 * statistics list them).
 * @param {Summary} summary
 * @param {number} now
 */
export function followUpOverdue(summary, now) {
  return followUpPending(summary) && summary.followUpDue !== null && summary.followUpDue < now;
}
