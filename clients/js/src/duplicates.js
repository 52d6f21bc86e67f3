// Possible duplicates of a dispute being entered: the server's rule for its
// duplicate list (shared/src/stats/disputes.rs `possible_duplicates`)
// applied to one new case. Two disputes are possible duplicates when they
// are of the same village and the same category, share a party name
// (trimmed, case-insensitive), were created at most DUPLICATE_WINDOW_DAYS
// days apart, and neither was marked "not a duplicate" of the other (the
// mark sits in either case's notDuplicates). Only counted
// disputes are candidates: a case linked as a duplicate of another is
// represented by the case it points to (the smallest id of a cycle of
// links, or the case whose link leads to no known dispute, counts itself).
import { SCHEMA } from './vocab.js';
import { documentIdBytes } from './record/docid.js';
import { compareStrings, rustTrim } from './record/value.js';

/** shared/src/stats/mod.rs DUPLICATE_WINDOW_DAYS, unless the schema carries it. */
export const DUPLICATE_WINDOW_DAYS = /** @type {any} */ (SCHEMA).duplicateWindowDays ?? 14;
const MILLIS_PER_DAY = 86_400_000;

/** @typedef {import('./record/summary.js').Summary} Summary */

/**
 * @typedef {object} Draft
 * @property {string} village
 * @property {string|null} [category] the dispute's category; while none is
 *   chosen yet, cases of every category are offered
 * @property {Array<{name: string}>} parties
 * @property {number} [reportedAt] when it is reported (default: now)
 * @property {string} [id] the draft's own id, never offered as its duplicate
 * @property {string[]} [notDuplicates] cases already judged not to be
 *   duplicates of the draft (an existing case's own marks)
 */

/**
 * The names of a case as compared: trimmed, lower-cased (as a whole and
 * character by character, as the Rust rule compares both), blanks left out.
 * @param {Array<string>} names
 * @returns {{names: Set<string>, keys: Set<string>}}
 */
function normalised(names) {
  const out = { names: new Set(), keys: new Set() };
  for (const name of names) {
    if (typeof name !== 'string') continue;
    const trimmed = rustTrim(name);
    if (trimmed === '') continue;
    out.names.add(trimmed.toLowerCase());
    out.keys.add(Array.from(trimmed, (c) => c.toLowerCase()).join(''));
  }
  return out;
}

/**
 * @param {Set<string>} a
 * @param {Set<string>} b
 */
function shared(a, b) {
  return [...a].filter((x) => b.has(x));
}

/**
 * Orders document ids as the Rust DocumentId does: by their bytes.
 * @param {string} a
 * @param {string} b
 */
function compareIds(a, b) {
  const x = documentIdBytes(a) ?? new Uint8Array(0);
  const y = documentIdBytes(b) ?? new Uint8Array(0);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length || compareStrings(a, b);
}

/**
 * The disputes that are linked as duplicates yet still count (a port of
 * `cycle_representatives`).
 * @param {Summary[]} disputes
 * @param {(id: string) => boolean} present
 * @returns {Set<string>}
 */
function cycleRepresentatives(disputes, present) {
  /** @type {Map<string, string>} */
  const links = new Map();
  for (const s of disputes) if (s.id !== null && s.duplicateOf !== null) links.set(s.id, s.duplicateOf);
  const done = new Set();
  const kept = new Set();
  for (const start of links.keys()) {
    /** @type {string[]} */
    const path = [];
    /** @type {Map<string, number>} */
    const onPath = new Map();
    let current = start;
    for (;;) {
      if (done.has(current)) break;
      const at = onPath.get(current);
      if (at !== undefined) {
        const cycle = path.slice(at).sort(compareIds);
        if (cycle.length > 0) kept.add(cycle[0]);
        break;
      }
      onPath.set(current, path.length);
      path.push(current);
      const next = links.get(current);
      if (next !== undefined) {
        current = next;
        continue;
      }
      if (!present(current)) {
        path.pop();
        const dangling = path[path.length - 1];
        if (dangling !== undefined) kept.add(dangling);
      }
      break;
    }
    for (const id of path) done.add(id);
  }
  return kept;
}

/**
 * The disputes of `summaries` that may be the same case as the draft, with
 * why each is offered (the names they share, the category, how many days
 * apart), oldest first (creation time, then id).
 * @param {Draft} draft
 * @param {Iterable<Summary>} summaries
 * @returns {Array<{id: string, summary: Summary, sharedNames: string[], category: string|null, daysApart: number}>}
 */
export function duplicateMatches(draft, summaries) {
  const mine = normalised((draft.parties ?? []).map((p) => p?.name));
  if (mine.names.size === 0) return [];
  const at = draft.reportedAt ?? Date.now();
  const window = DUPLICATE_WINDOW_DAYS * MILLIS_PER_DAY;
  const disputes = [...summaries].filter((s) => s && s.kind === 'dispute' && typeof s.id === 'string');
  const present = new Set(disputes.map((s) => s.id));
  const kept = cycleRepresentatives(disputes, (id) => present.has(id));
  const category = draft.category ?? null;
  const dismissed = new Set(draft.notDuplicates ?? []);
  const matches = [];
  for (const s of disputes) {
    if (s.village !== draft.village || s.id === draft.id) continue;
    if (category !== null && s.category !== category) continue;
    if (dismissed.has(/** @type {string} */ (s.id))) continue;
    if (draft.id !== undefined && (s.notDuplicates ?? []).includes(draft.id)) continue;
    if (s.duplicateOf !== null && !kept.has(/** @type {string} */ (s.id))) continue;
    if (Math.abs(s.createdAt - at) > window) continue;
    const theirs = normalised(s.partyNames ?? []);
    const names = shared(mine.names, theirs.names);
    if (names.length === 0 || shared(mine.keys, theirs.keys).length === 0) continue;
    matches.push({
      id: /** @type {string} */ (s.id),
      summary: s,
      sharedNames: names.sort(compareStrings),
      category: s.category ?? null,
      daysApart: Math.abs(s.createdAt - at) / MILLIS_PER_DAY,
    });
  }
  return matches.sort((a, b) => a.summary.createdAt - b.summary.createdAt || compareStrings(a.id, b.id));
}

/**
 * The ids of the disputes that may be the same case as the draft (the
 * server's duplicate rule), oldest first.
 * @param {Draft} draft
 * @param {Iterable<Summary>} summaries
 * @returns {string[]}
 */
export function possibleDuplicates(draft, summaries) {
  return duplicateMatches(draft, summaries).map((m) => m.id);
}
