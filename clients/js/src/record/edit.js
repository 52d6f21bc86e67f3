// Domain operations on records (mirrors shared/src/record/{edit,
// dispute_edit,visit_edit}.rs): each validates its inputs, writes its fields
// exactly as the Rust code does (scalar strings where Rust puts a string,
// Text objects spliced character-wise where Rust writes text, timestamps,
// sets as maps `key → true`, an append-only timeline) and commits one
// Automerge change with the same message. An operation that would change
// nothing returns the document it was given; one that fails throws an
// EditError and leaves the document as it was.
//
// Operations never delete fields they do not know: other clients may have
// written them.
import { A } from '../automerge.js';
import { isValue, SCHEMA_VERSION, values } from '../vocab.js';
import { documentIdProblem } from './docid.js';
import * as F from './fields.js';
import { anyTrue, latestKnown, risk as riskOf, sentiment as sentimentOf, setMembers } from './merge.js';
import { partyEntries, readKind, ReadError } from './read.js';
import { diff } from './text_diff.js';
import {
  all,
  asMillis,
  handleOf,
  isBlank,
  length,
  liveReader,
  maps,
  rustTrim,
  shorten,
  string,
  winner,
  winningList,
  winningMap,
} from './value.js';
import { villageCodeProblem } from './village.js';

const ROOT = F.ROOT;

/**
 * Who makes an edit, and when.
 * @typedef {object} Author
 * @property {string} cadre the person id: `createdBy`, the `by` of events
 * @property {number} at milliseconds since the epoch: `createdAt`, the `at`
 *   of events, and the change's time
 */

/**
 * Why an edit was refused. `code`: already_created, not_editable (with
 * `cause` a ReadError), empty, reported_after_creation, missing_level,
 * unexpected_level, unexpected_satisfied, missing_assignee,
 * unexpected_assignee, missing_due, unexpected_due, no_such_party,
 * no_follow_up_needed, bad_value (an input of the wrong type or outside
 * the vocabulary), outdated (the document given was changed since: edit
 * the newest version), document (Automerge refused the change).
 */
export class EditError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {{field?: string, cause?: unknown}} [details]
   */
  constructor(code, message, details = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'EditError';
    this.code = code;
    this.field = details.field ?? null;
  }
}

/** @typedef {import('@automerge/automerge').Doc<any>} Doc */
/** @typedef {ReturnType<typeof A.getBackend>} Backend */
/** @typedef {import('./value.js').Handle} Handle */

/**
 * The state of one change in progress: the backend to write with and a
 * reader of the current (pending) state.
 * @typedef {{h: Backend, r: Handle}} Tx
 */

// --- checks of inputs ---

/**
 * @param {string} field
 * @param {unknown} text
 */
function nonEmpty(field, text) {
  if (typeof text !== 'string') {
    throw new EditError('bad_value', `${field} must be a string`, { field });
  }
  if (isBlank(text)) throw new EditError('empty', `${field} must not be empty`, { field });
}

/**
 * @param {string} field
 * @param {unknown} text
 * @returns {string}
 */
function text(field, text) {
  if (typeof text !== 'string') throw new EditError('bad_value', `${field} must be a string`, { field });
  return text;
}

/**
 * @param {string} field
 * @param {unknown} value
 * @returns {string|null}
 */
function optionalText(field, value) {
  if (value === undefined || value === null) return null;
  return text(field, value);
}

/**
 * @param {import('../vocab.js').VocabName} vocab
 * @param {string} field
 * @param {unknown} value
 * @returns {string}
 */
function word(vocab, field, value) {
  if (!isValue(vocab, value)) {
    throw new EditError(
      'bad_value',
      `${field} ${JSON.stringify(value)} is not one of ${values(vocab).join(', ')}`,
      { field },
    );
  }
  return /** @type {string} */ (value);
}

/**
 * @param {string} field
 * @param {unknown} value
 * @returns {number}
 */
function time(field, value) {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new EditError('bad_value', `${field} must be a time in whole milliseconds since the epoch`, {
      field,
    });
  }
  return value;
}

/**
 * @param {string} field
 * @param {unknown} value
 * @returns {string}
 */
function documentId(field, value) {
  const problem = typeof value === 'string' ? documentIdProblem(value) : 'not a string';
  if (problem !== null) throw new EditError('bad_value', `${field} is not a document id: ${problem}`, { field });
  return /** @type {string} */ (value);
}

/**
 * @param {unknown} author
 * @returns {Author}
 */
function checkAuthor(author) {
  const a = /** @type {Author} */ (author ?? {});
  nonEmpty("the author's cadre id", a.cadre);
  time("the author's time", a.at);
  return a;
}

/**
 * Refuses to edit a document that is not a record of `kind`.
 * @param {Doc} doc
 * @param {'dispute'|'visit'} kind
 */
function requireKind(doc, kind) {
  let found;
  try {
    found = readKind(handleOf(doc));
  } catch (error) {
    const cause = error instanceof ReadError ? error : new ReadError('not_a_record', String(error));
    throw new EditError('not_editable', cause.message, { cause });
  }
  if (found !== kind) {
    const cause = new ReadError('wrong_kind', `the record is a ${found}, not a ${kind}`);
    throw new EditError('not_editable', cause.message, { cause });
  }
}

/**
 * Refuses to create a record in a document that already holds one.
 * @param {Doc} doc
 */
function requireBlank(doc) {
  if (all(handleOf(doc), ROOT, F.TYPE).length > 0) {
    throw new EditError('already_created', 'the document already holds a record');
  }
}

// --- one change ---

/**
 * Runs one operation as one change. `change` returns the change's message,
 * or null when there is nothing to change (then no change is made).
 * @param {Doc} doc
 * @param {Author} author
 * @param {(tx: Tx) => string|null} change
 * @returns {Doc}
 */
function edit(doc, author, change) {
  checkAuthor(author);
  if (!handleOf(doc).latest) {
    throw new EditError(
      'outdated',
      'this is an old version of the document (it was changed since); edit its newest version',
    );
  }
  /** @type {{message?: string, time: number}} */
  const options = { time: Math.floor(author.at / 1000) };
  try {
    return A.change(doc, options, () => {
      const h = A.getBackend(doc);
      const message = change({ h, r: liveReader(h) });
      if (message === null) {
        // Undo whatever was written on the way to finding nothing to do.
        h.rollback();
        return;
      }
      // Read by A.change when it commits, after this callback.
      options.message = message;
    });
  } catch (error) {
    if (error instanceof EditError) throw error;
    throw new EditError('document', `the document could not be changed: ${String(error)}`, { cause: error });
  }
}

// --- writing values ---

/**
 * Writes a collaborative text so that it reads `next`: an existing Text
 * object is edited by the minimal character splices; a missing field or a
 * plain string becomes a new Text object. Returns whether anything was
 * written.
 * @param {Tx} tx
 * @param {string} obj
 * @param {string} key
 * @param {string} next
 */
function writeText(tx, obj, key, next) {
  const current = winner(tx.r, obj, key);
  if (current?.t === 'str' && current.text) {
    const old = current.v;
    if (old === next) return false;
    spliceText(tx, current.id, old, next);
    return true;
  }
  if (current?.t === 'str' && current.v === next) return false;
  tx.h.putObject(obj, key, next);
  return true;
}

/**
 * Turns the Text object `textObj`, which reads `old`, into `next` by
 * splices, from the last to the first. The diff counts characters; the
 * positions given to Automerge are UTF-16 units, as JavaScript counts text.
 * @param {Tx} tx
 * @param {string} textObj
 * @param {string} old
 * @param {string} next
 */
function spliceText(tx, textObj, old, next) {
  const chars = Array.from(old);
  // UTF-16 offset of every character boundary of `old`.
  const offsets = [0];
  for (const ch of chars) offsets.push(offsets[offsets.length - 1] + ch.length);
  const splices = diff(old, next);
  for (let i = splices.length - 1; i >= 0; i--) {
    const s = splices[i];
    const start = offsets[Math.min(s.at, chars.length)];
    const end = offsets[Math.min(s.at + s.del, chars.length)];
    tx.h.splice(textObj, start, end - start, s.insert);
  }
}

/**
 * Writes a scalar unless every concurrent value of it already is `value`.
 * Returns whether anything was written.
 * @param {Tx} tx
 * @param {string} obj
 * @param {string} key
 * @param {string|boolean|{timestamp: number}} value
 */
function writeScalar(tx, obj, key, value) {
  const current = all(tx.r, obj, key);
  if (current.length === 1) {
    const [item] = current;
    if (typeof value === 'string' && item.t === 'str' && item.v === value) return false;
    if (typeof value === 'boolean' && item.t === 'bool' && item.v === value) return false;
    if (typeof value === 'object' && asMillis(item) === value.timestamp) return false;
  }
  putScalar(tx, obj, key, value);
  return true;
}

/**
 * @param {Tx} tx
 * @param {string} obj
 * @param {string|number} key
 * @param {string|boolean|{timestamp: number}} value
 */
function putScalar(tx, obj, key, value) {
  if (typeof value === 'string') tx.h.put(obj, key, value, 'str');
  else if (typeof value === 'boolean') tx.h.put(obj, key, value, 'boolean');
  else tx.h.put(obj, key, value.timestamp, 'timestamp');
}

/**
 * The map stored under `key`, created if the winner is not a map.
 * @param {Tx} tx
 * @param {string} obj
 * @param {string} key
 */
function ensureMap(tx, obj, key) {
  return winningMap(tx.r, obj, key) ?? tx.h.putObject(obj, key, {});
}

/**
 * The list stored under `key`, created if the winner is not a list.
 * @param {Tx} tx
 * @param {string} obj
 * @param {string} key
 */
function ensureList(tx, obj, key) {
  return winningList(tx.r, obj, key) ?? tx.h.putObject(obj, key, []);
}

/**
 * Adds `member` to the set under `key`; whether it was not a member.
 * @param {Tx} tx
 * @param {string} obj
 * @param {string} key
 * @param {string} member
 */
function setInsert(tx, obj, key, member) {
  if (setMembers(tx.r, obj, key).has(member)) return false;
  const set = ensureMap(tx, obj, key);
  tx.h.put(set, member, true, 'boolean');
  return true;
}

/**
 * Removes `member` from every concurrent copy of the set under `key`;
 * whether it was there. A concurrent add on another phone survives.
 * @param {Tx} tx
 * @param {string} obj
 * @param {string} key
 * @param {string} member
 */
function setRemove(tx, obj, key, member) {
  let removed = false;
  for (const set of maps(tx.r, obj, key)) {
    if (all(tx.r, set, member).length > 0) {
      tx.h.delete(set, member);
      removed = true;
    }
  }
  return removed;
}

/**
 * "risk medium → high", or "risk set to high" when there was no readable
 * value before or it stays the same (a conflict was settled).
 * @param {string} field
 * @param {string|null} before
 * @param {string} after
 */
function changeMessage(field, before, after) {
  return before !== null && before !== after ? `${field} ${before} → ${after}` : `${field} set to ${after}`;
}

// --- disputes ---

/**
 * @typedef {object} NewParty
 * @property {string} name
 * @property {string} role applicant, respondent, other
 * @property {string|null} [phone]
 * @property {string|null} [note]
 */

/**
 * @param {unknown} party
 * @returns {{name: string, role: string, phone: string|null, note: string|null}}
 */
function checkParty(party) {
  const p = /** @type {NewParty} */ (party ?? {});
  nonEmpty("a party's name", p.name);
  return {
    name: p.name,
    role: word('partyRole', "a party's role", p.role),
    phone: optionalText("a party's phone", p.phone),
    note: optionalText("a party's note", p.note),
  };
}

/**
 * @param {Tx} tx
 * @param {string} parties
 * @param {number} index
 * @param {{name: string, role: string, phone: string|null, note: string|null}} party
 */
function insertParty(tx, parties, index, party) {
  const entry = tx.h.insertObject(parties, index, {});
  tx.h.put(entry, F.NAME, party.name, 'str');
  tx.h.put(entry, F.ROLE, party.role, 'str');
  if (party.phone !== null) tx.h.put(entry, F.PHONE, party.phone, 'str');
  if (party.note !== null) tx.h.put(entry, F.NOTE, party.note, 'str');
}

/**
 * @typedef {object} NewEvent
 * @property {string} kind
 * @property {string|null} [level] for an escalation: the level it goes to
 * @property {string|null} [outcome]
 * @property {string|null} [note]
 * @property {boolean|null} [satisfied] for a follow-up
 * @property {string|null} [assignee] for an assignment (分派): the person assigned
 * @property {number|null} [due] for a supervision (督办): its deadline
 */

/**
 * @param {Tx} tx
 * @param {string} events
 * @param {Author} author
 * @param {{kind: string, level: string|null, outcome: string|null, note: string|null, satisfied: boolean|null, assignee?: string|null, due?: number|null}} event
 */
function insertEvent(tx, events, author, event) {
  const end = length(tx.r, events);
  const entry = tx.h.insertObject(events, end, {});
  tx.h.put(entry, F.AT, author.at, 'timestamp');
  tx.h.put(entry, F.BY, author.cadre, 'str');
  tx.h.put(entry, F.KIND, event.kind, 'str');
  if (event.level !== null) tx.h.put(entry, F.LEVEL, event.level, 'str');
  if (event.outcome !== null) writeText(tx, entry, F.OUTCOME, event.outcome);
  if (event.note !== null) writeText(tx, entry, F.NOTE, event.note);
  if (event.satisfied !== null) tx.h.put(entry, F.SATISFIED, event.satisfied, 'boolean');
  if (event.assignee != null) tx.h.put(entry, F.ASSIGNEE, event.assignee, 'str');
  if (event.due != null) tx.h.put(entry, F.DUE_AT, event.due, 'timestamp');
}

/**
 * @typedef {object} NewDispute
 * @property {string} village a 12-digit village code
 * @property {string} title
 * @property {string} [description]
 * @property {string} category
 * @property {string} risk
 * @property {NewParty[]} [parties]
 * @property {string[]} [assignees] cadre ids to assign from the start
 */

/**
 * A new, empty document (`actor`: the hex actor id to write with).
 * @param {{actor?: string}} [options]
 * @returns {Doc}
 */
export function newDocument(options = {}) {
  return options.actor === undefined ? A.init() : A.init({ actor: options.actor });
}

/**
 * Creates a dispute in an empty document (a new one when `doc` is null):
 * the creation fields, the case, and the `reported` event that opens the
 * timeline. Message "dispute reported: <title>".
 * @param {Doc|null} doc
 * @param {Author} author
 * @param {NewDispute} dispute
 * @param {{actor?: string}} [options] the actor of a new document
 * @returns {Doc}
 */
export function createDispute(doc, author, dispute, options = {}) {
  const d = /** @type {NewDispute} */ (dispute ?? {});
  const village = text('the village', d.village);
  const villageProblem = villageCodeProblem(village);
  if (villageProblem !== null) throw new EditError('bad_value', villageProblem, { field: F.VILLAGE });
  const category = word('category', 'the category', d.category);
  const risk = word('risk', 'the risk', d.risk);
  const description = d.description === undefined || d.description === null ? '' : text('the description', d.description);
  const base = doc ?? newDocument(options);
  requireBlank(base);
  nonEmpty('the title', d.title);
  const parties = (d.parties ?? []).map(checkParty);
  const assignees = d.assignees ?? [];
  if (!Array.isArray(assignees)) throw new EditError('bad_value', 'the assignees must be a list');
  for (const cadre of assignees) nonEmpty("an assignee's cadre id", cadre);
  return edit(base, author, (tx) => {
    tx.h.put(ROOT, F.TYPE, 'dispute', 'str');
    tx.h.put(ROOT, F.SCHEMA, SCHEMA_VERSION, 'int');
    tx.h.put(ROOT, F.VILLAGE, village, 'str');
    tx.h.put(ROOT, F.CREATED_AT, author.at, 'timestamp');
    tx.h.put(ROOT, F.CREATED_BY, author.cadre, 'str');
    writeText(tx, ROOT, F.TITLE, d.title);
    writeText(tx, ROOT, F.DESCRIPTION, description);
    tx.h.put(ROOT, F.CATEGORY, category, 'str');
    tx.h.put(ROOT, F.RISK, risk, 'str');
    const list = tx.h.putObject(ROOT, F.PARTIES, []);
    parties.forEach((party, index) => insertParty(tx, list, index, party));
    const set = tx.h.putObject(ROOT, F.ASSIGNEES, {});
    for (const cadre of assignees) tx.h.put(set, cadre, true, 'boolean');
    const events = tx.h.putObject(ROOT, F.EVENTS, []);
    insertEvent(tx, events, author, { kind: 'reported', level: null, outcome: null, note: null, satisfied: null });
    const links = tx.h.putObject(ROOT, F.LINKS, {});
    tx.h.putObject(links, F.RELATED, {});
    return `dispute reported: ${shorten(rustTrim(d.title))}`;
  });
}

/**
 * Edits the title (a collaborative text). Message "title edited".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} title
 * @returns {Doc}
 */
export function setTitle(doc, author, title) {
  requireKind(doc, 'dispute');
  nonEmpty('the title', title);
  return edit(doc, author, (tx) => (writeText(tx, ROOT, F.TITLE, title) ? 'title edited' : null));
}

/**
 * Edits the description (a collaborative text). Message "description edited".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} description
 * @returns {Doc}
 */
export function setDescription(doc, author, description) {
  requireKind(doc, 'dispute');
  text('the description', description);
  return edit(doc, author, (tx) =>
    writeText(tx, ROOT, F.DESCRIPTION, description) ? 'description edited' : null,
  );
}

/**
 * Sets the category. Message "category land → debt" / "category set to debt".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} category
 * @returns {Doc}
 */
export function setCategory(doc, author, category) {
  requireKind(doc, 'dispute');
  word('category', 'the category', category);
  return edit(doc, author, (tx) => {
    const before = latestKnown(tx.r, ROOT, F.CATEGORY, 'category');
    return writeScalar(tx, ROOT, F.CATEGORY, category) ? changeMessage('category', before, category) : null;
  });
}

/**
 * Sets the risk; also settles a concurrent disagreement (which otherwise
 * reads as the highest). Message "risk medium → high" / "risk set to high".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} risk
 * @returns {Doc}
 */
export function setRisk(doc, author, risk) {
  requireKind(doc, 'dispute');
  word('risk', 'the risk', risk);
  return edit(doc, author, (tx) => {
    const before = riskOf(tx.r, ROOT);
    return writeScalar(tx, ROOT, F.RISK, risk) ? changeMessage('risk', before, risk) : null;
  });
}

/**
 * Adds a party at the end of the list. Message "party <name> (<role>) added".
 * @param {Doc} doc
 * @param {Author} author
 * @param {NewParty} party
 * @returns {Doc}
 */
export function addParty(doc, author, party) {
  requireKind(doc, 'dispute');
  const p = checkParty(party);
  return edit(doc, author, (tx) => {
    const list = ensureList(tx, ROOT, F.PARTIES);
    insertParty(tx, list, length(tx.r, list), p);
    return `party ${shorten(rustTrim(p.name))} (${p.role}) added`;
  });
}

/**
 * Removes the party at `index` of the record's `parties` (as readRecord
 * lists them). Message "party <name> removed".
 * @param {Doc} doc
 * @param {Author} author
 * @param {number} index
 * @returns {Doc}
 */
export function removeParty(doc, author, index) {
  requireKind(doc, 'dispute');
  const r = handleOf(doc);
  const entries = partyEntries(r);
  const found = Number.isInteger(index) ? entries[index] : undefined;
  if (found === undefined) {
    throw new EditError('no_such_party', `there is no party number ${index}: the dispute has ${entries.length}`);
  }
  const [position, entry] = found;
  const name = string(r, entry, F.NAME) ?? '';
  return edit(doc, author, (tx) => {
    const list = winningList(tx.r, ROOT, F.PARTIES);
    if (list === null) throw new EditError('no_such_party', `there is no party number ${index}: the dispute has 0`);
    tx.h.delete(list, position);
    return `party ${shorten(rustTrim(name))} removed`;
  });
}

/**
 * Assigns a cadre to the case. Message "<cadre> assigned".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} cadre
 * @returns {Doc}
 */
export function assign(doc, author, cadre) {
  requireKind(doc, 'dispute');
  nonEmpty("the assignee's cadre id", cadre);
  return edit(doc, author, (tx) =>
    setInsert(tx, ROOT, F.ASSIGNEES, cadre) ? `${shorten(cadre)} assigned` : null,
  );
}

/**
 * Takes a cadre off the case. Message "<cadre> unassigned".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} cadre
 * @returns {Doc}
 */
export function unassign(doc, author, cadre) {
  requireKind(doc, 'dispute');
  text("the assignee's cadre id", cadre);
  return edit(doc, author, (tx) =>
    setRemove(tx, ROOT, F.ASSIGNEES, cadre) ? `${shorten(cadre)} unassigned` : null,
  );
}

/**
 * Appends an event to the timeline at the author's time and in the author's
 * name. Refused: `reported` (recorded at creation), an escalation without a
 * level, a level on anything else, `satisfied` on anything but a follow-up,
 * an assignment without its assignee (or an assignee on anything else), a
 * supervision without its deadline (or a deadline on anything else), a
 * return or supervision without a note. An assignment also puts the person
 * among the assignees. Message "event 'resolved' added" / "event
 * 'escalated' (town) added" / "event 'assigned' (<person>) added".
 * @param {Doc} doc
 * @param {Author} author
 * @param {NewEvent} event
 * @returns {Doc}
 */
export function addEvent(doc, author, event) {
  requireKind(doc, 'dispute');
  const e = /** @type {NewEvent} */ (event ?? {});
  const kind = word('eventKind', 'the event kind', e.kind);
  const level = e.level === undefined || e.level === null ? null : word('level', 'the level', e.level);
  if (kind === 'reported') {
    throw new EditError('reported_after_creation', 'a report is recorded when the case is created, not added later');
  }
  if (kind === 'escalated' && level === null) {
    throw new EditError('missing_level', 'an escalation needs the level it goes to');
  }
  if (kind !== 'escalated' && level !== null) {
    throw new EditError('unexpected_level', `only an escalation has a level; a ${kind} event does not`);
  }
  const satisfied = e.satisfied === undefined || e.satisfied === null ? null : e.satisfied;
  if (satisfied !== null && typeof satisfied !== 'boolean') {
    throw new EditError('bad_value', 'satisfied must be true or false', { field: F.SATISFIED });
  }
  if (satisfied !== null && kind !== 'followup') {
    throw new EditError(
      'unexpected_satisfied',
      `only a follow-up records whether the parties were satisfied; a ${kind} event does not`,
    );
  }
  const assignee = optionalText("the assignee's person id", e.assignee);
  if (kind === 'assigned' && assignee === null) {
    throw new EditError('missing_assignee', 'an assignment needs the person it assigns');
  }
  if (kind === 'assigned') nonEmpty("the assignee's person id", assignee);
  if (kind !== 'assigned' && assignee !== null) {
    throw new EditError('unexpected_assignee', `only an assignment names an assignee; a ${kind} event does not`);
  }
  const due = e.due === undefined || e.due === null ? null : time('the deadline', e.due);
  if (kind === 'supervised' && due === null) {
    throw new EditError('missing_due', 'a supervision (督办) needs its deadline');
  }
  if (kind !== 'supervised' && due !== null) {
    throw new EditError('unexpected_due', `only a supervision (督办) has a deadline; a ${kind} event does not`);
  }
  const outcome = optionalText('the outcome', e.outcome);
  const note = optionalText('the note', e.note);
  if (kind === 'returned' || kind === 'supervised') nonEmpty('the note', note ?? '');
  return edit(doc, author, (tx) => {
    const events = ensureList(tx, ROOT, F.EVENTS);
    insertEvent(tx, events, author, { kind, level, outcome, note, satisfied, assignee, due });
    if (assignee !== null) setInsert(tx, ROOT, F.ASSIGNEES, assignee);
    if (level !== null) return `event '${kind}' (${level}) added`;
    if (assignee !== null) return `event '${kind}' (${shorten(assignee)}) added`;
    return `event '${kind}' added`;
  });
}

/**
 * Marks the case as a duplicate of another (an id), or clears the mark
 * (null). Messages "marked duplicate of <id>" / "duplicate mark cleared".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string|null} original
 * @returns {Doc}
 */
export function setDuplicateOf(doc, author, original) {
  requireKind(doc, 'dispute');
  if (original !== null && original !== undefined) {
    const id = documentId('the original case', original);
    return edit(doc, author, (tx) => {
      const links = ensureMap(tx, ROOT, F.LINKS);
      return writeScalar(tx, links, F.DUPLICATE_OF, id) ? `marked duplicate of ${id}` : null;
    });
  }
  return edit(doc, author, (tx) => {
    let cleared = false;
    for (const links of maps(tx.r, ROOT, F.LINKS)) {
      if (all(tx.r, links, F.DUPLICATE_OF).length > 0) {
        tx.h.delete(links, F.DUPLICATE_OF);
        cleared = true;
      }
    }
    return cleared ? 'duplicate mark cleared' : null;
  });
}

/**
 * Records that another case is not a duplicate of this one (an official
 * dismissed the suggestion). Message "case <id> marked not a duplicate".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} other
 * @returns {Doc}
 */
export function markNotDuplicate(doc, author, other) {
  requireKind(doc, 'dispute');
  const id = documentId('the other case', other);
  return edit(doc, author, (tx) => {
    const links = ensureMap(tx, ROOT, F.LINKS);
    return setInsert(tx, links, F.NOT_DUPLICATES, id) ? `case ${id} marked not a duplicate` : null;
  });
}

/**
 * Records that another case is related. Message "related case <id> linked".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} other
 * @returns {Doc}
 */
export function linkRelated(doc, author, other) {
  requireKind(doc, 'dispute');
  const id = documentId('the related case', other);
  return edit(doc, author, (tx) => {
    const links = ensureMap(tx, ROOT, F.LINKS);
    return setInsert(tx, links, F.RELATED, id) ? `related case ${id} linked` : null;
  });
}

/**
 * Removes the link to a related case. Message "related case <id> unlinked".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} other
 * @returns {Doc}
 */
export function unlinkRelated(doc, author, other) {
  requireKind(doc, 'dispute');
  const id = documentId('the related case', other);
  return edit(doc, author, (tx) => {
    let removed = false;
    for (const links of maps(tx.r, ROOT, F.LINKS)) {
      removed = setRemove(tx, links, F.RELATED, id) || removed;
    }
    return removed ? `related case ${id} unlinked` : null;
  });
}

// --- visits ---

/**
 * @typedef {object} NewVisit
 * @property {string} village a 12-digit village code
 * @property {number} visitedAt milliseconds since the epoch
 * @property {string} household a name or a household number
 * @property {string|null} [group] the villagers' group (村民小组)
 * @property {string[]} [topics]
 * @property {string} sentiment
 * @property {string} [notes]
 * @property {{needed: boolean, dueAt?: number|null}} [followUp]
 * @property {string|null} [linkedDispute] the id of a dispute the visit gave rise to
 */

/**
 * Topics in vocabulary order, without repeats.
 * @param {unknown} topics
 * @returns {string[]}
 */
function topicSet(topics) {
  if (!Array.isArray(topics)) throw new EditError('bad_value', 'the topics must be a list', { field: F.TOPICS });
  for (const t of topics) word('topic', 'a topic', t);
  return values('topic').filter((t) => topics.includes(t));
}

/**
 * Records a visit in an empty document (a new one when `doc` is null).
 * Message "visit recorded: <household>".
 * @param {Doc|null} doc
 * @param {Author} author
 * @param {NewVisit} visit
 * @param {{actor?: string}} [options] the actor of a new document
 * @returns {Doc}
 */
export function createVisit(doc, author, visit, options = {}) {
  const v = /** @type {NewVisit} */ (visit ?? {});
  const village = text('the village', v.village);
  const villageProblem = villageCodeProblem(village);
  if (villageProblem !== null) throw new EditError('bad_value', villageProblem, { field: F.VILLAGE });
  const visitedAt = time('the visit time', v.visitedAt);
  const group = optionalText('the group', v.group);
  const topics = topicSet(v.topics ?? []);
  const sentiment = word('sentiment', 'the sentiment', v.sentiment);
  const notes = v.notes === undefined || v.notes === null ? '' : text('the notes', v.notes);
  const needed = v.followUp?.needed ?? false;
  if (typeof needed !== 'boolean') throw new EditError('bad_value', 'followUp.needed must be true or false');
  const due = v.followUp?.dueAt === undefined || v.followUp?.dueAt === null ? null : time('the follow-up due time', v.followUp.dueAt);
  const linked =
    v.linkedDispute === undefined || v.linkedDispute === null ? null : documentId('the linked dispute', v.linkedDispute);
  const base = doc ?? newDocument(options);
  requireBlank(base);
  nonEmpty('the household', v.household);
  return edit(base, author, (tx) => {
    tx.h.put(ROOT, F.TYPE, 'visit', 'str');
    tx.h.put(ROOT, F.SCHEMA, SCHEMA_VERSION, 'int');
    tx.h.put(ROOT, F.VILLAGE, village, 'str');
    tx.h.put(ROOT, F.CREATED_AT, author.at, 'timestamp');
    tx.h.put(ROOT, F.CREATED_BY, author.cadre, 'str');
    tx.h.put(ROOT, F.VISITED_AT, visitedAt, 'timestamp');
    tx.h.put(ROOT, F.HOUSEHOLD, v.household, 'str');
    if (group !== null) tx.h.put(ROOT, F.GROUP, group, 'str');
    const set = tx.h.putObject(ROOT, F.TOPICS, {});
    for (const topic of topics) tx.h.put(set, topic, true, 'boolean');
    tx.h.put(ROOT, F.SENTIMENT, sentiment, 'str');
    writeText(tx, ROOT, F.NOTES, notes);
    const followUp = tx.h.putObject(ROOT, F.FOLLOW_UP, {});
    tx.h.put(followUp, F.NEEDED, needed, 'boolean');
    tx.h.put(followUp, F.DONE, false, 'boolean');
    if (needed && due !== null) tx.h.put(followUp, F.DUE_AT, due, 'timestamp');
    if (linked !== null) tx.h.put(ROOT, F.LINKED_DISPUTE, linked, 'str');
    return `visit recorded: ${shorten(rustTrim(v.household))}`;
  });
}

/**
 * Edits the notes (a collaborative text). Message "notes edited".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} notes
 * @returns {Doc}
 */
export function setNotes(doc, author, notes) {
  requireKind(doc, 'visit');
  text('the notes', notes);
  return edit(doc, author, (tx) => (writeText(tx, ROOT, F.NOTES, notes) ? 'notes edited' : null));
}

/**
 * Sets the sentiment; also settles a concurrent disagreement (which
 * otherwise reads as the most severe). Message "sentiment neutral → urgent".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} sentiment
 * @returns {Doc}
 */
export function setSentiment(doc, author, sentiment) {
  requireKind(doc, 'visit');
  word('sentiment', 'the sentiment', sentiment);
  return edit(doc, author, (tx) => {
    const before = sentimentOf(tx.r, ROOT);
    return writeScalar(tx, ROOT, F.SENTIMENT, sentiment) ? changeMessage('sentiment', before, sentiment) : null;
  });
}

/**
 * Makes the topics exactly `topics`: adds the missing ones, removes the
 * others. Topics this version does not know are left alone; a topic another
 * phone adds concurrently stays. Message "topics +health −land".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string[]} topics
 * @returns {Doc}
 */
export function setTopics(doc, author, topics) {
  requireKind(doc, 'visit');
  const wanted = topicSet(topics);
  return edit(doc, author, (tx) => {
    const members = setMembers(tx.r, ROOT, F.TOPICS);
    const current = values('topic').filter((t) => members.has(t));
    const changes = [];
    for (const topic of wanted.filter((t) => !current.includes(t))) {
      setInsert(tx, ROOT, F.TOPICS, topic);
      changes.push(`+${topic}`);
    }
    for (const topic of current.filter((t) => !wanted.includes(t))) {
      setRemove(tx, ROOT, F.TOPICS, topic);
      changes.push(`−${topic}`);
    }
    return changes.length > 0 ? `topics ${changes.join(' ')}` : null;
  });
}

/**
 * Records that the visit needs a follow-up, due at `dueAt` if given.
 * Message "follow-up scheduled".
 * @param {Doc} doc
 * @param {Author} author
 * @param {number|null} [dueAt]
 * @returns {Doc}
 */
export function scheduleFollowUp(doc, author, dueAt = null) {
  requireKind(doc, 'visit');
  const due = dueAt === null || dueAt === undefined ? null : time('the follow-up due time', dueAt);
  return edit(doc, author, (tx) => {
    const followUp = ensureMap(tx, ROOT, F.FOLLOW_UP);
    let written = writeScalar(tx, followUp, F.NEEDED, true);
    written = writeScalar(tx, followUp, F.DONE, false) || written;
    if (due !== null) written = writeScalar(tx, followUp, F.DUE_AT, { timestamp: due }) || written;
    return written ? 'follow-up scheduled' : null;
  });
}

/**
 * Marks the follow-up done; refused when the visit needs none. Message
 * "follow-up done".
 * @param {Doc} doc
 * @param {Author} author
 * @returns {Doc}
 */
export function markFollowUpDone(doc, author) {
  requireKind(doc, 'visit');
  const r = handleOf(doc);
  if (!maps(r, ROOT, F.FOLLOW_UP).some((copy) => anyTrue(r, copy, F.NEEDED))) {
    throw new EditError('no_follow_up_needed', 'the visit has no follow-up to mark done');
  }
  return edit(doc, author, (tx) => {
    const followUp = ensureMap(tx, ROOT, F.FOLLOW_UP);
    return writeScalar(tx, followUp, F.DONE, true) ? 'follow-up done' : null;
  });
}

/**
 * Links the visit to the dispute it gave rise to (an id), or removes the
 * link (null). Messages "linked to dispute <id>" / "link to dispute removed".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string|null} dispute
 * @returns {Doc}
 */
export function linkDispute(doc, author, dispute) {
  requireKind(doc, 'visit');
  if (dispute !== null && dispute !== undefined) {
    const id = documentId('the linked dispute', dispute);
    return edit(doc, author, (tx) =>
      writeScalar(tx, ROOT, F.LINKED_DISPUTE, id) ? `linked to dispute ${id}` : null,
    );
  }
  return edit(doc, author, (tx) => {
    if (all(tx.r, ROOT, F.LINKED_DISPUTE).length === 0) return null;
    tx.h.delete(ROOT, F.LINKED_DISPUTE);
    return 'link to dispute removed';
  });
}
