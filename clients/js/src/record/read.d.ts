/**
 * @typedef {object} Header
 * @property {number|null} schema the schema version (null when absent)
 * @property {string} village
 * @property {number} createdAt
 * @property {string} createdBy
 */
/**
 * @typedef {object} Party
 * @property {string} name
 * @property {string} role an unknown role reads as 'other'
 * @property {string|null} phone
 * @property {string|null} note
 */
/** @typedef {import('./status.js').Event} Event */
/**
 * @typedef {object} Dispute
 * @property {'dispute'} kind
 * @property {Header} header
 * @property {string} title
 * @property {string} description
 * @property {string|null} category
 * @property {string|null} risk the highest concurrent risk
 * @property {Party[]} parties
 * @property {string[]} assignees sorted
 * @property {Event[]} events in stored order
 * @property {Event[]} timeline in timeline order (at, by, position)
 * @property {string|null} duplicateOf
 * @property {string[]} related
 * @property {string[]} notDuplicates cases judged not to be duplicates of this one
 * @property {string} status folded from the timeline
 * @property {string|null} escalationLevel
 * @property {string|null} maxEscalationLevel
 * @property {number|null} resolvedAt
 * @property {string} stage the closed-loop stage
 * @property {number|null} stageSince
 * @property {string} handlingLevel
 * @property {number|null} supervisionDue
 * @property {number} lastActivity
 */
/**
 * @typedef {object} FollowUp
 * @property {boolean} needed
 * @property {boolean} done
 * @property {number|null} dueAt
 */
/**
 * @typedef {object} Visit
 * @property {'visit'} kind
 * @property {Header} header
 * @property {number|null} visitedAt
 * @property {string} household
 * @property {string|null} group
 * @property {string[]} topics in vocabulary order
 * @property {string|null} sentiment the most severe concurrent sentiment
 * @property {string} notes
 * @property {FollowUp} followUp
 * @property {string|null} linkedDispute
 * @property {number} lastActivity
 */
/** @typedef {Dispute|Visit} Record */
/** @typedef {import('./value.js').Handle} Handle */
/**
 * The kind of record a document holds.
 * @param {Handle} h
 * @returns {'dispute'|'visit'}
 */
export function readKind(h: Handle): "dispute" | "visit";
/**
 * Every event of every concurrent `events` list, numbered in that order.
 * @param {Handle} h
 * @returns {Event[]}
 */
export function readEvents(h: Handle): Event[];
/**
 * The readable party entries of the stored `parties` list: their position
 * in the list and their map. `Dispute.parties[i]` is the i-th of these.
 * @param {Handle} h
 * @returns {Array<[number, string]>}
 */
export function partyEntries(h: Handle): Array<[number, string]>;
/**
 * Reads the record a document holds. Throws only ReadError, whatever the
 * document holds.
 * @param {import('@automerge/automerge').Doc<unknown>} doc
 * @param {'dispute'|'visit'} [expected] refuse a record of the other kind
 * @returns {Record}
 */
export function readRecord(doc: import("@automerge/automerge").Doc<unknown>, expected?: "dispute" | "visit"): Record;
/**
 * Reads field by field: the reference reading, which the fast one must
 * always agree with.
 * @param {Handle} h
 * @param {'dispute'|'visit'} [expected]
 * @returns {Record}
 */
export function readSlowly(h: Handle, expected?: "dispute" | "visit"): Record;
/**
 * Why a document could not be read as a record. `code` is one of
 * `not_a_record`, `unknown_type`, `wrong_kind`, `missing_field`,
 * `bad_village`.
 */
export class ReadError extends Error {
    /**
     * @param {'not_a_record'|'unknown_type'|'wrong_kind'|'missing_field'|'bad_village'} code
     * @param {string} message
     * @param {string} [field]
     */
    constructor(code: "not_a_record" | "unknown_type" | "wrong_kind" | "missing_field" | "bad_village", message: string, field?: string);
    code: "missing_field" | "not_a_record" | "unknown_type" | "wrong_kind" | "bad_village";
    field: string;
}
export type Header = {
    /**
     * the schema version (null when absent)
     */
    schema: number | null;
    village: string;
    createdAt: number;
    createdBy: string;
};
export type Party = {
    name: string;
    /**
     * an unknown role reads as 'other'
     */
    role: string;
    phone: string | null;
    note: string | null;
};
export type Event = import("./status.js").Event;
export type Dispute = {
    kind: "dispute";
    header: Header;
    title: string;
    description: string;
    category: string | null;
    /**
     * the highest concurrent risk
     */
    risk: string | null;
    parties: Party[];
    /**
     * sorted
     */
    assignees: string[];
    /**
     * in stored order
     */
    events: Event[];
    /**
     * in timeline order (at, by, position)
     */
    timeline: Event[];
    duplicateOf: string | null;
    related: string[];
    /**
     * cases judged not to be duplicates of this one
     */
    notDuplicates: string[];
    /**
     * folded from the timeline
     */
    status: string;
    escalationLevel: string | null;
    maxEscalationLevel: string | null;
    resolvedAt: number | null;
    /**
     * the closed-loop stage
     */
    stage: string;
    stageSince: number | null;
    handlingLevel: string;
    supervisionDue: number | null;
    lastActivity: number;
};
export type FollowUp = {
    needed: boolean;
    done: boolean;
    dueAt: number | null;
};
export type Visit = {
    kind: "visit";
    header: Header;
    visitedAt: number | null;
    household: string;
    group: string | null;
    /**
     * in vocabulary order
     */
    topics: string[];
    /**
     * the most severe concurrent sentiment
     */
    sentiment: string | null;
    notes: string;
    followUp: FollowUp;
    linkedDispute: string | null;
    lastActivity: number;
};
export type Record = Dispute | Visit;
export type Handle = import("./value.js").Handle;
