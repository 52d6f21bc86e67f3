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
export function summaryOf(record: import("./read.js").Record, id?: string | null): Summary;
/**
 * The summary of a record document. Throws ReadError when the document is
 * not a record.
 * @param {import('@automerge/automerge').Doc<unknown>} doc
 * @param {string|null} [id] the document id to put in the summary
 * @returns {Summary}
 */
export function summarize(doc: import("@automerge/automerge").Doc<unknown>, id?: string | null): Summary;
/**
 * Whether a dispute still needs work (any status but resolved), as the
 * statistics count it.
 * @param {Summary} summary
 */
export function isOpen(summary: Summary): boolean;
/**
 * Whether a dispute is overdue: open and created more than `days` days
 * before `now` (the statistics' backlog rule).
 * @param {Summary} summary
 * @param {number} now milliseconds since the epoch
 * @param {number} [days] default: the schema's overdueDays
 */
export function isOverdue(summary: Summary, now: number, days?: number): boolean;
/**
 * Whether a visit's follow-up was promised and is not done yet.
 * @param {Summary} summary
 */
export function followUpPending(summary: Summary): boolean;
/**
 * Whether a pending follow-up was due before `now` (overdue, as the
 * statistics list them).
 * @param {Summary} summary
 * @param {number} now
 */
export function followUpOverdue(summary: Summary, now: number): boolean;
export type Summary = {
    /**
     * the document id (null when not given)
     */
    id: string | null;
    kind: "dispute" | "visit";
    village: string;
    createdAt: number;
    createdBy: string;
    lastActivity: number;
    /**
     * dispute title, or the household of a visit
     */
    title: string;
    status: string | null;
    category: string | null;
    risk: string | null;
    escalationLevel: string | null;
    maxEscalationLevel: string | null;
    resolvedAt: number | null;
    partyNames: string[];
    assignees: string[];
    eventCount: number;
    duplicateOf: string | null;
    /**
     * the closed-loop stage (disputes)
     */
    stage: string | null;
    /**
     * when the case entered its stage
     */
    stageSince: number | null;
    /**
     * the level handling the case
     */
    handlingLevel: string | null;
    /**
     * the 督办 deadline in effect
     */
    supervisionDue: number | null;
    /**
     * cases judged not to be duplicates of this one
     */
    notDuplicates: string[];
    visitedAt: number | null;
    sentiment: string | null;
    topics: string[];
    followUpNeeded: boolean;
    followUpDone: boolean;
    followUpDue: number | null;
    linkedDispute: string | null;
};
