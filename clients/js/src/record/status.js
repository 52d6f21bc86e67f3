// The derived status of a dispute, folded from its timeline in timeline
// order (by `at`, then `by`, then list position), as
// shared/src/record/status.rs does:
//   reported → open; mediation, reopened → mediating; agreement, resolved →
//   resolved; failed → failed; escalated → escalated (at its level);
//   followup, note → unchanged.
import { rank } from '../vocab.js';
import { compareStrings } from './value.js';

/**
 * @typedef {object} Event
 * @property {number} at milliseconds since the epoch
 * @property {string} by the cadre (person) who recorded it
 * @property {string} kind
 * @property {string|null} level
 * @property {string|null} outcome
 * @property {string|null} note
 * @property {boolean|null} satisfied
 * @property {number} position position in the stored list(s)
 * @property {string} id the id of the entry's map object
 */

/**
 * @typedef {object} CaseStatus
 * @property {string} status
 * @property {string|null} escalationLevel the level in effect when escalated
 * @property {string|null} maxEscalationLevel the highest level ever escalated to
 * @property {number|null} resolvedAt when the case became resolved, if it is now
 */

/**
 * The timeline order of two events.
 * @param {Event} a
 * @param {Event} b
 */
export function timelineOrder(a, b) {
  if (a.at !== b.at) return a.at < b.at ? -1 : 1;
  const by = compareStrings(a.by, b.by);
  if (by !== 0) return by;
  return a.position - b.position;
}

/**
 * The events in timeline order.
 * @param {Event[]} events
 * @returns {Event[]}
 */
export function timeline(events) {
  return [...events].sort(timelineOrder);
}

/** @returns {CaseStatus} */
function fresh() {
  return { status: 'open', escalationLevel: null, maxEscalationLevel: null, resolvedAt: null };
}

/**
 * @param {string|null} a
 * @param {string|null} b
 */
function higherLevel(a, b) {
  if (a === null) return b;
  if (b === null) return a;
  return rank('level', b) > rank('level', a) ? b : a;
}

/**
 * Folds the events in timeline order.
 * @param {Event[]} events
 * @returns {CaseStatus}
 */
export function foldStatus(events) {
  let state = fresh();
  for (const event of timeline(events)) {
    /** @type {string} */
    let next;
    switch (event.kind) {
      case 'reported':
        next = 'open';
        break;
      case 'mediation':
      case 'reopened':
        next = 'mediating';
        break;
      case 'agreement':
      case 'resolved':
        next = 'resolved';
        break;
      case 'failed':
        next = 'failed';
        break;
      case 'escalated':
        next = 'escalated';
        break;
      default:
        continue;
    }
    const escalationLevel = event.kind === 'escalated' ? event.level : null;
    const resolvedAt =
      next !== 'resolved' ? null : state.status === 'resolved' ? state.resolvedAt : event.at;
    state = {
      status: next,
      escalationLevel,
      maxEscalationLevel: higherLevel(state.maxEscalationLevel, escalationLevel),
      resolvedAt,
    };
  }
  return state;
}
