/**
 * The values of a vocabulary, in schema order (risk and sentiment mildest
 * first, level from the grassroots up).
 * @param {VocabName} name
 * @returns {string[]}
 */
export function values(name: VocabName): string[];
/**
 * Whether `value` is a word of the vocabulary.
 * @param {VocabName} name
 * @param {unknown} value
 * @returns {boolean}
 */
export function isValue(name: VocabName, value: unknown): boolean;
/**
 * The position of `value` in its vocabulary (-1 when unknown): the order of
 * the merge rules (higher is riskier, more severe, higher up).
 * @param {VocabName} name
 * @param {string} value
 * @returns {number}
 */
export function rank(name: VocabName, value: string): number;
/**
 * Every label of every vocabulary in one language:
 * `{risk: {low: '低', ...}, ...}`.
 * @param {Lang} [lang]
 * @returns {Record<string, Record<string, string>>}
 */
export function labels(lang?: Lang): Record<string, Record<string, string>>;
/**
 * The label of one word, or the word itself when the vocabulary does not
 * know it (a value written by a newer client).
 * @param {VocabName} name
 * @param {string} value
 * @param {Lang} [lang]
 * @returns {string}
 */
export function label(name: VocabName, value: string, lang?: Lang): string;
/** @typedef {'recordKind'|'category'|'risk'|'sentiment'|'partyRole'|'eventKind'|'level'|'topic'|'status'} VocabName */
/** @typedef {'zh'|'en'} Lang */
/**
 * @typedef {object} Limits
 * @property {number} maxDocumentBytes saved size of a document
 * @property {number} maxTextChars characters in any one string
 * @property {number} maxParties
 * @property {number} maxEvents
 * @property {number} maxTotalChars characters of every string and map key together
 * @property {number} maxHistoryOps operations in the whole history
 */
/** The schema file as generated. */
export const SCHEMA: {
    schemaVersion: number;
    limits: {
        maxDocumentBytes: number;
        maxTextChars: number;
        maxParties: number;
        maxEvents: number;
        maxTotalChars: number;
        maxHistoryOps: number;
    };
    immutable: string[];
    vocab: {
        recordKind: {
            value: string;
            zh: string;
            en: string;
        }[];
        category: {
            value: string;
            zh: string;
            en: string;
        }[];
        risk: {
            value: string;
            zh: string;
            en: string;
        }[];
        sentiment: {
            value: string;
            zh: string;
            en: string;
        }[];
        partyRole: {
            value: string;
            zh: string;
            en: string;
        }[];
        eventKind: {
            value: string;
            zh: string;
            en: string;
        }[];
        level: {
            value: string;
            zh: string;
            en: string;
        }[];
        topic: {
            value: string;
            zh: string;
            en: string;
        }[];
        status: {
            value: string;
            zh: string;
            en: string;
        }[];
        stage: {
            value: string;
            zh: string;
            en: string;
        }[];
        deadlineKind: {
            value: string;
            zh: string;
            en: string;
        }[];
    };
    errorCodes: string[];
    overdueDays: number;
    duplicateWindowDays: number;
    timeLimits: {
        concludeDays: number;
        acceptDays: number;
        followupDays: number;
    };
    futureAllowanceMillis: number;
};
/** The schema version this library writes and reads. @type {number} */
export const SCHEMA_VERSION: number;
/** The default limits. @type {Readonly<Limits>} */
export const LIMITS: Readonly<Limits>;
/** The fields fixed when a record is created. @type {readonly string[]} */
export const IMMUTABLE: readonly string[];
/** Validation error codes. @type {readonly string[]} */
export const ERROR_CODES: readonly string[];
/** Days after which an open case counts as overdue. @type {number} */
export const OVERDUE_DAYS: number;
export type VocabName = "recordKind" | "category" | "risk" | "sentiment" | "partyRole" | "eventKind" | "level" | "topic" | "status";
export type Lang = "zh" | "en";
export type Limits = {
    /**
     * saved size of a document
     */
    maxDocumentBytes: number;
    /**
     * characters in any one string
     */
    maxTextChars: number;
    maxParties: number;
    maxEvents: number;
    /**
     * characters of every string and map key together
     */
    maxTotalChars: number;
    /**
     * operations in the whole history
     */
    maxHistoryOps: number;
};
