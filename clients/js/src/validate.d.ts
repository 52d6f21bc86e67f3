/**
 * Checks a record document against the schema and `limits`, and, when
 * `previous` (the version stored before this change) is given, that the
 * fields fixed at creation did not change and no timeline event was removed
 * or altered; without `previous`, that the fixed fields hold one value each.
 *
 * `savedSize` is the size in bytes of the document as it would be stored
 * (`A.save(doc).length`).
 * @param {Doc} doc
 * @param {Doc|null} previous
 * @param {number} savedSize
 * @param {Limits} [limits]
 * @param {number} [now] the validating clock (ms since the epoch); when
 *   given, times the change records more than FUTURE_ALLOWANCE_MILLIS after
 *   it are refused (`in_the_future`), as the server refuses them
 * @returns {ValidationError[]} empty when the document is valid
 */
export function validate(doc: Doc, previous: Doc | null, savedSize: number, limits?: Limits, now?: number): ValidationError[];
/**
 * Checks that what a change says about its own author names the person
 * holding the sending device: a new record's `createdBy`, and the `by` of
 * every event the change adds (events already stored keep theirs).
 * @param {Doc} doc
 * @param {Doc|null} previous the stored version; null for a new record
 * @param {string} person
 * @returns {ValidationError[]} empty when every author is `person`
 */
export function checkAuthorship(doc: Doc, previous: Doc | null, person: string): ValidationError[];
/**
 * The `links.duplicateOf` values of `doc` that `previous` does not hold:
 * the duplicate links a change sets (sorted, without repeats).
 * @param {Doc} doc
 * @param {Doc|null} previous
 * @returns {string[]}
 */
export function newDuplicateLinks(doc: Doc, previous: Doc | null): string[];
/**
 * How far after the validating clock's "now" a recorded time may lie (a
 * day: phones' clocks drift); shared/src/record/validate.rs
 * FUTURE_ALLOWANCE_MILLIS. It applies to when things happened (`createdAt`,
 * an event's `at`, `visitedAt`), not to deadlines (`dueAt`).
 */
export const FUTURE_ALLOWANCE_MILLIS: number;
export type Snapshot = Array<[string, Item[]]>;
/**
 * One violation.
 */
export type ValidationError = {
    /**
     * the path of the field; empty for the whole document
     */
    field: string;
    /**
     * missing_field, wrong_type, unknown_value, empty,
     * too_long, too_many, too_large, too_much_text, too_much_history,
     * immutable_changed, conflicting_at_creation, unsupported_schema,
     * bad_village_code, bad_document_id, timeline_rewritten, not_the_sender,
     * in_the_future
     */
    code: string;
    /**
     * worded for a person, as the Rust error displays
     */
    message: string;
};
export type Limits = import("./vocab.js").Limits;
export type Item = import("./record/value.js").Item;
export type Handle = import("./record/value.js").Handle;
export type Doc = import("@automerge/automerge").Doc<unknown>;
