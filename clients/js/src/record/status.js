// The derived status of a dispute, folded from its timeline in timeline
// order (by `at`, then `by`, then list position), as
// shared/src/record/status.rs does:
//   reported → open; mediation, reopened → mediating; agreement, resolved →
//   resolved; failed → failed; escalated → escalated (at its level);
//   returned (while an escalation awaits acceptance) → mediating;
//   followup, note, accepted, assigned, supervised, archived → unchanged.
// Beside it the closed-loop stage: reported, mediation, reopened →
// handling; escalated → pending; accepted (while pending) → accepted;
// assigned (while pending or accepted) → handling; returned (while
// pending) → handling at the level below; agreement, resolved → followup;
// failed → failed; followup (while followup) → resolved; archived (while
// concluded) → archived. A supervised event sets the 督办 deadline until the
// case concludes.
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
 * @property {string|null} assignee the person an `assigned` event assigns
 * @property {number|null} due the deadline of a `supervised` event
 * @property {number} position position in the stored list(s)
 * @property {string} id the id of the entry's map object
 */

/**
 * @typedef {object} CaseStatus
 * @property {string} status
 * @property {string|null} escalationLevel the level in effect when escalated
 * @property {string|null} maxEscalationLevel the highest level escalated to and not returned from
 * @property {number|null} resolvedAt when the case became resolved, if it is now
 * @property {string} stage the closed-loop stage
 * @property {number|null} stageSince when the case entered its stage
 * @property {string[]} levels levels escalated to and not returned from, lowest first
 * @property {number|null} supervisionDue the 督办 deadline in effect
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
  return {
    status: 'open',
    escalationLevel: null,
    maxEscalationLevel: null,
    resolvedAt: null,
    stage: 'handling',
    stageSince: null,
    levels: [],
    supervisionDue: null,
  };
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

const CONCLUDED = new Set(['followup', 'resolved', 'failed', 'archived']);

/**
 * Whether a stage concludes the mediation (the 30-day limit stops).
 * @param {string} stage
 */
export function isConcluded(stage) {
  return CONCLUDED.has(stage);
}

/**
 * The level handling a case: the last level escalated to and not
 * returned from, or the village.
 * @param {CaseStatus} state
 */
export function handlingLevel(state) {
  return state.levels.length === 0 ? 'village' : state.levels[state.levels.length - 1];
}

/**
 * Folds the events in timeline order.
 * @param {Event[]} events
 * @returns {CaseStatus}
 */
export function foldStatus(events) {
  const state = fresh();
  for (const event of timeline(events)) {
    const pending = state.stage === 'pending';
    const escalationOpen = pending || state.stage === 'accepted';
    /** @type {string|null} */
    let status = null;
    switch (event.kind) {
      case 'reported':
        status = 'open';
        break;
      case 'mediation':
      case 'reopened':
        status = 'mediating';
        break;
      case 'agreement':
      case 'resolved':
        status = 'resolved';
        break;
      case 'failed':
        status = 'failed';
        break;
      case 'escalated':
        status = 'escalated';
        break;
      case 'returned':
        if (pending) status = 'mediating';
        break;
    }
    /** @type {string|null} */
    let stage = null;
    switch (event.kind) {
      case 'reported':
      case 'mediation':
      case 'reopened':
        stage = 'handling';
        break;
      case 'escalated':
        stage = 'pending';
        break;
      case 'accepted':
        if (pending) stage = 'accepted';
        break;
      case 'assigned':
        if (escalationOpen) stage = 'handling';
        break;
      case 'returned':
        if (pending) stage = 'handling';
        break;
      case 'agreement':
      case 'resolved':
        stage = 'followup';
        break;
      case 'failed':
        stage = 'failed';
        break;
      case 'followup':
        if (state.stage === 'followup') stage = 'resolved';
        break;
      case 'archived':
        if (isConcluded(state.stage) && state.stage !== 'archived') stage = 'archived';
        break;
    }
    if (event.kind === 'escalated') {
      if (event.level !== null) state.levels.push(event.level);
    } else if (event.kind === 'returned' && pending) {
      state.levels.pop();
      // The escalation sent back no longer counts; those accepted before it still do.
      state.maxEscalationLevel = state.levels.reduce((max, level) => higherLevel(max, level), null);
    } else if (event.kind === 'supervised' && !isConcluded(state.stage)) {
      state.supervisionDue = event.due;
    }
    if (stage !== null) {
      if (isConcluded(stage)) state.supervisionDue = null;
      if (stage !== state.stage || state.stageSince === null) state.stageSince = event.at;
      state.stage = stage;
    }
    if (status !== null) {
      const escalationLevel = event.kind === 'escalated' ? event.level : null;
      state.maxEscalationLevel = higherLevel(state.maxEscalationLevel, escalationLevel);
      state.resolvedAt =
        status !== 'resolved' ? null : state.status === 'resolved' ? state.resolvedAt : event.at;
      state.escalationLevel = escalationLevel;
      state.status = status;
    }
  }
  return state;
}
