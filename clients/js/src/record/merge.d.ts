/** @typedef {import('./value.js').Handle} Handle */
/** @typedef {import('../vocab.js').VocabName} VocabName */
/**
 * The greatest known value, in vocabulary order, among the concurrent
 * values of `key`.
 * @param {Handle} h
 * @param {string} obj
 * @param {string} key
 * @param {VocabName} vocab
 * @returns {string|null}
 */
export function highest(h: Handle, obj: string, key: string, vocab: VocabName): string | null;
/**
 * @param {Handle} h
 * @param {string} obj
 */
export function risk(h: Handle, obj: string): string;
/**
 * @param {Handle} h
 * @param {string} obj
 */
export function sentiment(h: Handle, obj: string): string;
/**
 * Automerge's winner among the concurrent values this version knows.
 * @param {Handle} h
 * @param {string} obj
 * @param {string} key
 * @param {VocabName} vocab
 * @returns {string|null}
 */
export function latestKnown(h: Handle, obj: string, key: string, vocab: VocabName): string | null;
/**
 * Whether any concurrent value of a flag is true.
 * @param {Handle} h
 * @param {string} obj
 * @param {string} key
 */
export function anyTrue(h: Handle, obj: string, key: string): boolean;
/**
 * The members of a set stored as a map `member → true` under `key`, over
 * every concurrent copy of the map.
 * @param {Handle} h
 * @param {string} obj
 * @param {string} key
 * @returns {Set<string>}
 */
export function setMembers(h: Handle, obj: string, key: string): Set<string>;
/**
 * The distinct known values of an enumerated field when concurrent values
 * disagree (in vocabulary order), or null when there is no disagreement.
 * @param {Handle} h
 * @param {string} obj
 * @param {string} key
 * @param {VocabName} vocab
 * @returns {string[]|null}
 */
export function disagreement(h: Handle, obj: string, key: string, vocab: VocabName): string[] | null;
export type Handle = import("./value.js").Handle;
export type VocabName = import("../vocab.js").VocabName;
