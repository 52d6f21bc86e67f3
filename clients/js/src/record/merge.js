// Merge rules: how a field set concurrently on several phones reads
// (mirrors shared/src/record/merge.rs). Each rule is computed from every
// concurrent value, so every replica reaches the same answer:
// - risk: the highest concurrent value; sentiment: the most severe;
// - sets are maps `key → true`: a key stays while any concurrent value of it
//   is true, and the members of every concurrent copy of the set count;
// - follow-up flags read true if any concurrent value is true;
// - other enumerations take Automerge's winner among the known values.
import { rank } from '../vocab.js';
import * as F from './fields.js';
import { all, keys, maps } from './value.js';

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
export function highest(h, obj, key, vocab) {
  let best = null;
  let bestRank = -1;
  for (const item of all(h, obj, key)) {
    if (item.t !== 'str') continue;
    const r = rank(vocab, item.v);
    if (r > bestRank) {
      best = item.v;
      bestRank = r;
    }
  }
  return best;
}

/**
 * @param {Handle} h
 * @param {string} obj
 */
export function risk(h, obj) {
  return highest(h, obj, F.RISK, 'risk');
}

/**
 * @param {Handle} h
 * @param {string} obj
 */
export function sentiment(h, obj) {
  return highest(h, obj, F.SENTIMENT, 'sentiment');
}

/**
 * Automerge's winner among the concurrent values this version knows.
 * @param {Handle} h
 * @param {string} obj
 * @param {string} key
 * @param {VocabName} vocab
 * @returns {string|null}
 */
export function latestKnown(h, obj, key, vocab) {
  const values = all(h, obj, key);
  for (let i = values.length - 1; i >= 0; i--) {
    const item = values[i];
    if (item.t === 'str' && rank(vocab, item.v) >= 0) return item.v;
  }
  return null;
}

/**
 * Whether any concurrent value of a flag is true.
 * @param {Handle} h
 * @param {string} obj
 * @param {string} key
 */
export function anyTrue(h, obj, key) {
  return all(h, obj, key).some((item) => item.t === 'bool' && item.v === true);
}

/**
 * The members of a set stored as a map `member → true` under `key`, over
 * every concurrent copy of the map.
 * @param {Handle} h
 * @param {string} obj
 * @param {string} key
 * @returns {Set<string>}
 */
export function setMembers(h, obj, key) {
  const members = new Set();
  for (const set of maps(h, obj, key)) {
    for (const member of keys(h, set)) {
      if (anyTrue(h, set, member)) members.add(member);
    }
  }
  return members;
}

/**
 * The distinct known values of an enumerated field when concurrent values
 * disagree (in vocabulary order), or null when there is no disagreement.
 * @param {Handle} h
 * @param {string} obj
 * @param {string} key
 * @param {VocabName} vocab
 * @returns {string[]|null}
 */
export function disagreement(h, obj, key, vocab) {
  const known = new Set();
  for (const item of all(h, obj, key)) {
    if (item.t === 'str' && rank(vocab, item.v) >= 0) known.add(item.v);
  }
  if (known.size < 2) return null;
  return [...known].sort((a, b) => rank(vocab, a) - rank(vocab, b));
}
