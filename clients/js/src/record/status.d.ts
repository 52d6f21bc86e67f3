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
export function timelineOrder(a: Event, b: Event): number;
/**
 * The events in timeline order.
 * @param {Event[]} events
 * @returns {Event[]}
 */
export function timeline(events: Event[]): Event[];
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
     * the highest level ever escalated to
     */
    maxEscalationLevel: string | null;
    /**
     * when the case became resolved, if it is now
     */
    resolvedAt: number | null;
};
