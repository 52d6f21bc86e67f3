// A faster reading of a record for list views and summaries: one call to
// materialise the document's shown values, and the concurrent values only
// where a merge rule needs them (risk, sentiment, sets, the timeline's
// copies, follow-up flags). It gives exactly what the field-by-field reading
// in read.js gives (test/record-fast.test.js compares them on random and
// merged documents); whatever it cannot read with certainty (a map key that
// JavaScript objects cannot hold, a value of a kind it does not expect) makes
// it give up, and the field-by-field reading runs instead.
import { A } from '../automerge.js';
import { isValue, values } from '../vocab.js';
import { isDocumentId } from './docid.js';
import * as F from './fields.js';
import { anyTrue, latestKnown, risk, sentiment, setMembers } from './merge.js';
import { foldStatus, handlingLevel, timeline } from './status.js';
import { all, asMillis, compareStrings, keys, lists, maps, rustDebug, shorten } from './value.js';
import { villageCodeProblem } from './village.js';

const ROOT = F.ROOT;

/** Thrown when the fast reading cannot be sure; the caller reads field by field. */
export class GiveUp extends Error {}

/**
 * A map as materialised, or null when the value is not a map. A map whose
 * prototype a `__proto__` key replaced cannot be read safely.
 * @param {unknown} value
 * @returns {Record<string, unknown>|null}
 */
function mapOf(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype) return /** @type {Record<string, unknown>} */ (value);
  if (value instanceof Date || value instanceof Uint8Array || value instanceof A.Counter || A.isImmutableString(value)) {
    return null;
  }
  throw new GiveUp('a map whose prototype was replaced');
}

/**
 * @param {Record<string, unknown>} map
 * @param {string} key
 */
function own(map, key) {
  return Object.hasOwn(map, key) ? map[key] : undefined;
}

/**
 * A materialised string (Text or scalar), or null.
 * @param {unknown} value
 * @returns {string|null}
 */
function str(value) {
  if (typeof value === 'string') return value;
  if (A.isImmutableString(value)) return /** @type {any} */ (value).val;
  return null;
}

const I64 = 2n ** 63n;
const F64_LIMIT = 9_223_372_036_854_775_808;

/**
 * A materialised time in milliseconds, or null (as asMillis of the Item).
 * @param {unknown} value
 * @returns {number|null}
 */
function time(value) {
  if (value instanceof Date) {
    const t = value.getTime();
    return Number.isFinite(t) ? t : null;
  }
  if (typeof value === 'number') {
    const t = Math.trunc(value);
    return Number.isFinite(t) && t >= -F64_LIMIT && t < F64_LIMIT ? t + 0 : null;
  }
  if (typeof value === 'bigint') return value >= -I64 && value < I64 ? Number(value) : null;
  return null;
}

/**
 * A materialised whole number (as asInteger of the Item), or null.
 * @param {unknown} value
 * @returns {number|null}
 */
function integer(value) {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value % 1 === 0 && value >= -F64_LIMIT && value < F64_LIMIT ? value + 0 : null;
  }
  if (typeof value === 'bigint') return value >= -I64 && value < I64 ? Number(value) : null;
  return null;
}

/**
 * The members of the set under `key` of `obj`, whose shown value is `shown`.
 * @param {import('./value.js').Handle} r
 * @param {string} obj
 * @param {unknown} shown
 * @param {string} key
 */
function members(r, obj, shown, key) {
  const copies = maps(r, obj, key);
  if (copies.length !== 1) return setMembers(r, obj, key);
  const map = mapOf(shown);
  if (map === null) return setMembers(r, obj, key);
  /** @type {Set<string>} */
  const found = new Set();
  for (const member of keys(r, copies[0])) {
    if (own(map, member) === true || anyTrue(r, copies[0], member)) found.add(member);
  }
  return found;
}

/**
 * The creation fields, or what is wrong with them (as read.js reports it).
 * @param {Record<string, unknown>} root
 */
function readHeaderFast(root) {
  const village = str(own(root, F.VILLAGE));
  if (village === null) return { missing: F.VILLAGE };
  const problem = villageCodeProblem(village);
  if (problem !== null) return { badVillage: village, problem };
  const createdAt = time(own(root, F.CREATED_AT));
  if (createdAt === null) return { missing: F.CREATED_AT };
  const createdBy = str(own(root, F.CREATED_BY));
  if (createdBy === null) return { missing: F.CREATED_BY };
  return { header: { schema: integer(own(root, F.SCHEMA)), village, createdAt, createdBy } };
}

/**
 * @param {Record<string, unknown>} entry
 * @param {number} position
 * @param {string} id
 */
function event(entry, position, id) {
  const at = time(own(entry, F.AT));
  if (at === null) return null;
  const kind = str(own(entry, F.KIND));
  if (kind === null || !isValue('eventKind', kind)) return null;
  const level = str(own(entry, F.LEVEL));
  const satisfied = own(entry, F.SATISFIED);
  const assignee = str(own(entry, F.ASSIGNEE));
  const due = time(own(entry, F.DUE_AT));
  return {
    at,
    by: str(own(entry, F.BY)) ?? '',
    kind,
    level: level !== null && isValue('level', level) ? level : null,
    outcome: str(own(entry, F.OUTCOME)),
    note: str(own(entry, F.NOTE)),
    satisfied: typeof satisfied === 'boolean' ? satisfied : null,
    assignee,
    due,
    position,
    id,
  };
}

/**
 * @param {import('./value.js').Handle} r
 * @param {Record<string, unknown>} root
 */
function events(r, root) {
  const copies = lists(r, ROOT, F.EVENTS);
  /** @type {import('./status.js').Event[]} */
  const found = [];
  let position = 0;
  copies.forEach((list, n) => {
    // The last copy is the one shown; the others are materialised apart.
    const shown = n === copies.length - 1 ? own(root, F.EVENTS) : r.materialize(list);
    if (!Array.isArray(shown)) throw new GiveUp('the timeline is not a list');
    shown.forEach((value, index) => {
      const entry = mapOf(value);
      if (entry !== null) {
        const raw = r.getWithType(list, index);
        if (!raw || raw[0] !== 'map') throw new GiveUp('a timeline entry changed type');
        const e = event(entry, position + index, raw[1]);
        if (e) found.push(e);
      }
    });
    position += shown.length;
  });
  return found;
}

/**
 * Reads a record the fast way. Throws ReadError for what is not a record,
 * GiveUp when the field-by-field reading must decide.
 * @param {import('./value.js').Handle} r
 * @param {(code: string, message: string, field?: string) => Error} readError
 */
export function readFast(r, readError) {
  const root = mapOf(r.materialize(ROOT));
  if (root === null) throw new GiveUp('the root is not a map');
  const kind = str(own(root, F.TYPE));
  if (kind === null) throw readError('not_a_record', 'the document is not a record: it has no "type" field');
  if (!isValue('recordKind', kind)) {
    throw readError('unknown_type', `the document's type ${rustDebug(shorten(kind))} is not a record type (dispute or visit)`);
  }
  const read = readHeaderFast(root);
  if (read.missing) {
    throw readError('missing_field', `the record has no readable ${rustDebug(read.missing)} field`, read.missing);
  }
  if (read.badVillage !== undefined) {
    throw readError(
      'bad_village',
      `the record's village ${rustDebug(shorten(read.badVillage))} is not a village code: ${read.problem}`,
      F.VILLAGE,
    );
  }
  const header = /** @type {import('./read.js').Header} */ (read.header);
  if (kind === 'dispute') {
    const found = events(r, root);
    const shownLinks = own(root, F.LINKS);
    const links = shownLinks === undefined ? null : mapOf(shownLinks);
    const duplicate = links === null ? null : str(own(links, F.DUPLICATE_OF));
    /** @type {Set<string>} */
    const related = new Set();
    for (const copy of maps(r, ROOT, F.LINKS)) {
      for (const id of setMembers(r, copy, F.RELATED)) if (isDocumentId(id)) related.add(id);
    }
    /** @type {Set<string>} */
    const notDuplicates = new Set();
    for (const copy of maps(r, ROOT, F.LINKS)) {
      for (const id of setMembers(r, copy, F.NOT_DUPLICATES)) if (isDocumentId(id)) notDuplicates.add(id);
    }
    const category = str(own(root, F.CATEGORY));
    const partiesShown = own(root, F.PARTIES);
    /** @type {import('./read.js').Party[]} */
    const parties = [];
    if (Array.isArray(partiesShown)) {
      for (const value of partiesShown) {
        const party = mapOf(value);
        if (party === null) continue;
        const role = str(own(party, F.ROLE));
        if (role === null || !isValue('partyRole', role)) throw new GiveUp('a role to read from every value');
        parties.push({
          name: str(own(party, F.NAME)) ?? '',
          role,
          phone: str(own(party, F.PHONE)),
          note: str(own(party, F.NOTE)),
        });
      }
    }
    const status = foldStatus(found);
    return {
      kind: 'dispute',
      header,
      title: str(own(root, F.TITLE)) ?? '',
      description: str(own(root, F.DESCRIPTION)) ?? '',
      category: category !== null && isValue('category', category) ? category : latestKnown(r, ROOT, F.CATEGORY, 'category'),
      risk: risk(r, ROOT),
      parties,
      assignees: [...members(r, ROOT, own(root, F.ASSIGNEES), F.ASSIGNEES)].sort(compareStrings),
      events: found,
      timeline: timeline(found),
      duplicateOf: duplicate !== null && isDocumentId(duplicate) ? duplicate : null,
      related: [...related].sort(compareStrings),
      notDuplicates: [...notDuplicates].sort(compareStrings),
      status: status.status,
      escalationLevel: status.escalationLevel,
      maxEscalationLevel: status.maxEscalationLevel,
      resolvedAt: status.resolvedAt,
      stage: status.stage,
      stageSince: status.stageSince,
      handlingLevel: handlingLevel(status),
      supervisionDue: status.supervisionDue,
      lastActivity: found.reduce((max, e) => Math.max(max, e.at), header.createdAt),
    };
  }
  const copies = maps(r, ROOT, F.FOLLOW_UP);
  /** @type {number|null} */
  let dueAt = null;
  for (const copy of copies) {
    for (const item of all(r, copy, F.DUE_AT)) {
      const ms = asMillis(item);
      if (ms !== null && (dueAt === null || ms < dueAt)) dueAt = ms;
    }
  }
  const known = members(r, ROOT, own(root, F.TOPICS), F.TOPICS);
  const linked = str(own(root, F.LINKED_DISPUTE));
  const visitedAt = time(own(root, F.VISITED_AT));
  return {
    kind: 'visit',
    header,
    visitedAt,
    household: str(own(root, F.HOUSEHOLD)) ?? '',
    group: str(own(root, F.GROUP)),
    topics: values('topic').filter((t) => known.has(t)),
    sentiment: sentiment(r, ROOT),
    notes: str(own(root, F.NOTES)) ?? '',
    followUp: {
      needed: copies.some((c) => anyTrue(r, c, F.NEEDED)),
      done: copies.some((c) => anyTrue(r, c, F.DONE)),
      dueAt,
    },
    linkedDispute: linked !== null && isDocumentId(linked) ? linked : null,
    lastActivity: visitedAt === null ? header.createdAt : Math.max(visitedAt, header.createdAt),
  };
}
