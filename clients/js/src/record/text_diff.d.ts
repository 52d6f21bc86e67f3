/**
 * Replace `del` characters of the old text, starting at character `at`,
 * with `insert`.
 * @typedef {{at: number, del: number, insert: string}} Splice
 */
/**
 * The splices that turn `old` into `new`, ascending and not overlapping;
 * apply them from last to first.
 * @param {string} oldText
 * @param {string} newText
 * @returns {Splice[]}
 */
export function diff(oldText: string, newText: string): Splice[];
/**
 * Applies splices to a plain string (a check, and for tests).
 * @param {string} oldText
 * @param {Splice[]} splices
 */
export function applySplices(oldText: string, splices: Splice[]): string;
/**
 * Replace `del` characters of the old text, starting at character `at`,
 * with `insert`.
 */
export type Splice = {
    at: number;
    del: number;
    insert: string;
};
/**
 * One step: delete old character `old`, or insert new character `nu` before
 * old position `old`.
 */
export type Step = {
    del: true;
    old: number;
} | {
    del: false;
    old: number;
    nu: number;
};
