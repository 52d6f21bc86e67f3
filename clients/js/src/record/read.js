// Reading a record document into a hydrated, merge-resolved record
// (mirrors shared/src/record/{mod,header,dispute,visit,event}.rs).
//
// Reading never fails on the shape of the optional parts of a document:
// fields this version cannot read are left out (validation reports them). A
// document that is not a record at all is a ReadError with a stable code.
import { isValue, values } from '../vocab.js';
import { isDocumentId } from './docid.js';
import * as F from './fields.js';
import { latestKnown, risk, sentiment, setMembers, anyTrue } from './merge.js';
import { readFast } from './fast.js';
import { foldStatus, handlingLevel, timeline } from './status.js';
import {
  all,
  asBool,
  asInteger,
  asMillis,
  compareStrings,
  handleOf,
  length,
  lists,
  maps,
  millis,
  rustDebug,
  shorten,
  string,
  winner,
  winningList,
  winningMap,
} from './value.js';
import { villageCodeProblem } from './village.js';

const ROOT = F.ROOT;

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
  constructor(code, message, field) {
    super(message);
    this.name = 'ReadError';
    this.code = code;
    this.field = field ?? null;
  }
}

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
export function readKind(h) {
  const kind = string(h, ROOT, F.TYPE);
  if (kind === null) {
    throw new ReadError('not_a_record', 'the document is not a record: it has no "type" field');
  }
  if (!isValue('recordKind', kind)) {
    throw new ReadError(
      'unknown_type',
      `the document's type ${rustDebug(shorten(kind))} is not a record type (dispute or visit)`,
    );
  }
  return /** @type {'dispute'|'visit'} */ (kind);
}

/**
 * @param {Handle} h
 * @returns {Header}
 */
function readHeader(h) {
  const village = string(h, ROOT, F.VILLAGE);
  if (village === null) throw missing(F.VILLAGE);
  const problem = villageCodeProblem(village);
  if (problem !== null) {
    throw new ReadError(
      'bad_village',
      `the record's village ${rustDebug(shorten(village))} is not a village code: ${problem}`,
      F.VILLAGE,
    );
  }
  const schemaItem = winner(h, ROOT, F.SCHEMA);
  const integer = schemaItem ? asInteger(schemaItem) : null;
  const schema = integer === null ? null : Number(integer);
  const createdAt = millis(h, ROOT, F.CREATED_AT);
  if (createdAt === null) throw missing(F.CREATED_AT);
  const createdBy = string(h, ROOT, F.CREATED_BY);
  if (createdBy === null) throw missing(F.CREATED_BY);
  return { schema, village, createdAt, createdBy };
}

/** @param {string} field */
function missing(field) {
  return new ReadError('missing_field', `the record has no readable ${rustDebug(field)} field`, field);
}

/**
 * Reads one event entry; entries without a time or a known kind read as null.
 * @param {Handle} h
 * @param {string} entry
 * @param {number} position
 * @returns {Event|null}
 */
function readEvent(h, entry, position) {
  const at = millis(h, entry, F.AT);
  if (at === null) return null;
  const kind = string(h, entry, F.KIND);
  if (kind === null || !isValue('eventKind', kind)) return null;
  const level = string(h, entry, F.LEVEL);
  const satisfied = winner(h, entry, F.SATISFIED);
  const assignee = string(h, entry, F.ASSIGNEE);
  const due = millis(h, entry, F.DUE_AT);
  return {
    at,
    by: string(h, entry, F.BY) ?? '',
    kind,
    level: level !== null && isValue('level', level) ? level : null,
    outcome: string(h, entry, F.OUTCOME),
    note: string(h, entry, F.NOTE),
    satisfied: satisfied ? asBool(satisfied) : null,
    assignee,
    due,
    position,
    id: entry,
  };
}

/**
 * Every event of every concurrent `events` list, numbered in that order.
 * @param {Handle} h
 * @returns {Event[]}
 */
export function readEvents(h) {
  /** @type {Event[]} */
  const events = [];
  let position = 0;
  for (const list of lists(h, ROOT, F.EVENTS)) {
    const n = length(h, list);
    for (let i = 0; i < n; i++) {
      const item = winner(h, list, i);
      if (item?.t === 'map') {
        const event = readEvent(h, item.id, position);
        if (event) events.push(event);
      }
      position++;
    }
  }
  return events;
}

/**
 * The readable party entries of the stored `parties` list: their position
 * in the list and their map. `Dispute.parties[i]` is the i-th of these.
 * @param {Handle} h
 * @returns {Array<[number, string]>}
 */
export function partyEntries(h) {
  const list = winningList(h, ROOT, F.PARTIES);
  if (list === null) return [];
  /** @type {Array<[number, string]>} */
  const entries = [];
  const n = length(h, list);
  for (let i = 0; i < n; i++) {
    const item = winner(h, list, i);
    if (item?.t === 'map') entries.push([i, item.id]);
  }
  return entries;
}

/**
 * @param {Handle} h
 * @param {string} entry
 * @returns {Party}
 */
function readParty(h, entry) {
  return {
    name: string(h, entry, F.NAME) ?? '',
    role: latestKnown(h, entry, F.ROLE, 'partyRole') ?? 'other',
    phone: string(h, entry, F.PHONE),
    note: string(h, entry, F.NOTE),
  };
}

/**
 * @param {Handle} h
 * @returns {Dispute}
 */
function readDispute(h) {
  const header = readHeader(h);
  const events = readEvents(h);
  const links = winningMap(h, ROOT, F.LINKS);
  const duplicate = links === null ? null : string(h, links, F.DUPLICATE_OF);
  /** @type {Set<string>} */
  const related = new Set();
  for (const copy of maps(h, ROOT, F.LINKS)) {
    for (const id of setMembers(h, copy, F.RELATED)) {
      if (isDocumentId(id)) related.add(id);
    }
  }
  /** @type {Set<string>} */
  const notDuplicates = new Set();
  for (const copy of maps(h, ROOT, F.LINKS)) {
    for (const id of setMembers(h, copy, F.NOT_DUPLICATES)) {
      if (isDocumentId(id)) notDuplicates.add(id);
    }
  }
  const status = foldStatus(events);
  return {
    kind: 'dispute',
    header,
    title: string(h, ROOT, F.TITLE) ?? '',
    description: string(h, ROOT, F.DESCRIPTION) ?? '',
    category: latestKnown(h, ROOT, F.CATEGORY, 'category'),
    risk: risk(h, ROOT),
    parties: partyEntries(h).map(([, entry]) => readParty(h, entry)),
    assignees: [...setMembers(h, ROOT, F.ASSIGNEES)].sort(compareStrings),
    events,
    timeline: timeline(events),
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
    lastActivity: events.reduce((max, e) => Math.max(max, e.at), header.createdAt),
  };
}

/**
 * @param {Handle} h
 * @returns {Visit}
 */
function readVisit(h) {
  const header = readHeader(h);
  const copies = maps(h, ROOT, F.FOLLOW_UP);
  /** @type {number|null} */
  let dueAt = null;
  for (const copy of copies) {
    for (const item of all(h, copy, F.DUE_AT)) {
      const ms = asMillis(item);
      if (ms !== null && (dueAt === null || ms < dueAt)) dueAt = ms;
    }
  }
  const known = setMembers(h, ROOT, F.TOPICS);
  const linked = string(h, ROOT, F.LINKED_DISPUTE);
  const visitedAt = millis(h, ROOT, F.VISITED_AT);
  return {
    kind: 'visit',
    header,
    visitedAt,
    household: string(h, ROOT, F.HOUSEHOLD) ?? '',
    group: string(h, ROOT, F.GROUP),
    topics: topicOrder().filter((t) => known.has(t)),
    sentiment: sentiment(h, ROOT),
    notes: string(h, ROOT, F.NOTES) ?? '',
    followUp: {
      needed: copies.some((c) => anyTrue(h, c, F.NEEDED)),
      done: copies.some((c) => anyTrue(h, c, F.DONE)),
      dueAt,
    },
    linkedDispute: linked !== null && isDocumentId(linked) ? linked : null,
    lastActivity: visitedAt === null ? header.createdAt : Math.max(visitedAt, header.createdAt),
  };
}

/** @type {string[]|null} */
let topics = null;
function topicOrder() {
  topics ??= values('topic');
  return topics;
}

/**
 * Reads the record a document holds. Throws only ReadError, whatever the
 * document holds.
 * @param {import('@automerge/automerge').Doc<unknown>} doc
 * @param {'dispute'|'visit'} [expected] refuse a record of the other kind
 * @returns {Record}
 */
export function readRecord(doc, expected) {
  /** @type {Handle} */
  let h;
  try {
    h = handleOf(doc);
  } catch {
    throw new ReadError('not_a_record', 'the value is not an Automerge document');
  }
  if (expected === undefined) {
    try {
      return /** @type {Record} */ (readFast(h, (code, message, field) => new ReadError(/** @type {any} */ (code), message, field)));
    } catch (error) {
      if (error instanceof ReadError) throw error;
      // GiveUp, or anything unexpected: read field by field.
    }
  }
  return readSlowly(h, expected);
}

/**
 * Reads field by field: the reference reading, which the fast one must
 * always agree with.
 * @param {Handle} h
 * @param {'dispute'|'visit'} [expected]
 * @returns {Record}
 */
export function readSlowly(h, expected) {
  try {
    const kind = readKind(h);
    if (expected !== undefined && kind !== expected) {
      throw new ReadError('wrong_kind', `the record is a ${kind}, not a ${expected}`);
    }
    return kind === 'dispute' ? readDispute(h) : readVisit(h);
  } catch (error) {
    if (error instanceof ReadError) throw error;
    throw new ReadError('not_a_record', `the document could not be read: ${String(error)}`);
  }
}
