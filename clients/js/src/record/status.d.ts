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
export function timelineOrder(a: Event, b: Event): number;
/**
 * The events in timeline order.
 * @param {Event[]} events
 * @returns {Event[]}
 */
export function timeline(events: Event[]): Event[];
/**
 * Whether a stage concludes the mediation (the 30-day limit stops).
 * @param {string} stage
 */
export function isConcluded(stage: string): boolean;
/**
 * The level handling a case: the last level escalated to and not
 * returned from, or the village.
 * @param {CaseStatus} state
 */
export function handlingLevel(state: CaseStatus): string;
/**
 * Folds the events in timeline order.
 * @param {Event[]} events
 * @returns {CaseStatus}
 */
export function foldStatus(events: Event[]): CaseStatus;
export type Event = {
    /**
     * milliseconds since the epoch
     */
    at: number;
    /**
     * the cadre (person) who recorded it
     */
    by: string;
    kind: string;
    level: string | null;
    outcome: string | null;
    note: string | null;
    satisfied: boolean | null;
    /**
     * the person an `assigned` event assigns
     */
    assignee: string | null;
    /**
     * the deadline of a `supervised` event
     */
    due: number | null;
    /**
     * position in the stored list(s)
     */
    position: number;
    /**
     * the id of the entry's map object
     */
    id: string;
};
export type CaseStatus = {
    status: string;
    /**
     * the level in effect when escalated
     */
    escalationLevel: string | null;
    /**
     * the highest level escalated to and not returned from
     */
    maxEscalationLevel: string | null;
    /**
     * when the case became resolved, if it is now
     */
    resolvedAt: number | null;
    /**
     * the closed-loop stage
     */
    stage: string;
    /**
     * when the case entered its stage
     */
    stageSince: number | null;
    /**
     * levels escalated to and not returned from, lowest first
     */
    levels: string[];
    /**
     * the 督办 deadline in effect
     */
    supervisionDue: number | null;
};
