// Validation of a record document before it is stored or shared: the schema,
// the limits, and the fields that may never change (a port of
// shared/src/record/validate.rs, which the server runs on every record it
// receives; the phone runs this before it commits an edit, so that only a
// buggy or hostile client is ever refused).
//
// Every violation is returned at once, each with the path of the field as
// the Rust validator writes it (`risk`, `parties[2].role`,
// `topics["weather"]`, empty for the document as a whole), a stable code
// (the snake_case name of the Rust ValidationErrorKind) and a message.
// Every concurrent value of a field is checked, not only the one Automerge
// shows. Fields this version does not know are accepted and left alone,
// except that their strings count towards the text limits.
import { A } from './automerge.js';
import { documentIdProblem } from './record/docid.js';
import * as F from './record/fields.js';
import {
  all,
  asBool,
  asInteger,
  asMillisExact,
  charCount,
  compareStrings,
  describe,
  handleOf,
  isBlank,
  isTime,
  itemEquals,
  keys,
  length,
  lists,
  rustDebug,
  shorten,
  typeName,
  withReader,
} from './record/value.js';
import { villageCodeProblem } from './record/village.js';
import { IMMUTABLE, LIMITS, SCHEMA, SCHEMA_VERSION, values } from './vocab.js';

/**
 * One violation.
 * @typedef {object} ValidationError
 * @property {string} field the path of the field; empty for the whole document
 * @property {string} code missing_field, wrong_type, unknown_value, empty,
 *   too_long, too_many, too_large, too_much_text, too_much_history,
 *   immutable_changed, conflicting_at_creation, unsupported_schema,
 *   bad_village_code, bad_document_id, timeline_rewritten, not_the_sender,
 *   in_the_future
 * @property {string} message worded for a person, as the Rust error displays
 */

/** @typedef {import('./vocab.js').Limits} Limits */
/** @typedef {import('./record/value.js').Item} Item */
/** @typedef {import('./record/value.js').Handle} Handle */
/** @typedef {import('@automerge/automerge').Doc<unknown>} Doc */

const ROOT = F.ROOT;

/**
 * @param {string} parent
 * @param {string} key
 */
function join(parent, key) {
  return parent === '' ? key : `${parent}.${key}`;
}

/**
 * @param {string} parent
 * @param {number} i
 */
function index(parent, i) {
  return `${parent}[${i}]`;
}

/**
 * @param {string} parent
 * @param {string} key
 */
function member(parent, key) {
  return `${parent}[${rustDebug(shorten(key))}]`;
}

/**
 * @param {string} field
 * @param {string} code
 * @param {string} what
 * @returns {ValidationError}
 */
function error(field, code, what) {
  return { field, code, message: field === '' ? `document: ${what}` : `field ${rustDebug(field)}: ${what}` };
}

const REQUIRED = true;
const OPTIONAL = false;

/** Checks one document; mirrors the Rust `Check`. */
class Check {
  /**
   * @param {Handle} r
   * @param {Limits} limits
   */
  constructor(r, limits) {
    this.r = r;
    this.limits = limits;
    /** @type {ValidationError[]} */
    this.errors = [];
  }

  /**
   * @param {string} field
   * @param {string} code
   * @param {string} what
   */
  report(field, code, what) {
    this.errors.push(error(field, code, what));
  }

  /**
   * Every concurrent value of `key`, reporting a missing required one.
   * @param {string} obj
   * @param {string} key
   * @param {string} path
   * @param {boolean} required
   */
  values(obj, key, path, required) {
    const found = all(this.r, obj, key);
    if (found.length === 0 && required) this.report(path, 'missing_field', 'is missing');
    return found;
  }

  /**
   * @param {string} path
   * @param {string} expected
   * @param {Item} found
   */
  wrongType(path, expected, found) {
    this.report(path, 'wrong_type', `must be ${expected}, not ${typeName(found)}`);
  }

  /**
   * @param {string} path
   * @param {string} text
   */
  textLength(path, text) {
    const chars = charCount(text);
    if (chars > this.limits.maxTextChars) {
      this.report(path, 'too_long', `has ${chars} characters; at most ${this.limits.maxTextChars} are allowed`);
    }
  }

  /**
   * A string (scalar or Text) within the text limit; returns the strings.
   * @param {string} obj
   * @param {string} key
   * @param {string} parent
   * @param {boolean} required
   * @returns {string[]}
   */
  string(obj, key, parent, required) {
    const path = join(parent, key);
    /** @type {string[]} */
    const strings = [];
    for (const item of this.values(obj, key, path, required)) {
      if (item.t === 'str') {
        this.textLength(path, item.v);
        strings.push(item.v);
      } else {
        this.wrongType(path, 'a string', item);
      }
    }
    return strings;
  }

  /**
   * A required string that must not be blank.
   * @param {string} obj
   * @param {string} key
   * @param {string} parent
   */
  name(obj, key, parent) {
    for (const text of this.string(obj, key, parent, REQUIRED)) {
      if (isBlank(text)) this.report(join(parent, key), 'empty', 'must not be empty');
    }
  }

  /**
   * A string from a closed vocabulary; returns the known values found.
   * @param {string} obj
   * @param {string} key
   * @param {string} parent
   * @param {boolean} required
   * @param {string[]} allowed
   * @returns {string[]}
   */
  word(obj, key, parent, required, allowed) {
    const path = join(parent, key);
    /** @type {string[]} */
    const found = [];
    for (const text of this.string(obj, key, parent, required)) {
      if (allowed.includes(text)) found.push(text);
      else this.report(path, 'unknown_value', `${rustDebug(shorten(text))} is not one of ${allowed.join(', ')}`);
    }
    return found;
  }

  /**
   * @param {string} obj
   * @param {string} key
   * @param {string} parent
   * @param {boolean} required
   */
  time(obj, key, parent, required) {
    const path = join(parent, key);
    for (const item of this.values(obj, key, path, required)) {
      if (!isTime(item)) this.wrongType(path, 'a time in milliseconds since the epoch', item);
    }
  }

  /**
   * @param {string} obj
   * @param {string} key
   * @param {string} parent
   * @param {boolean} required
   */
  boolean(obj, key, parent, required) {
    const path = join(parent, key);
    for (const item of this.values(obj, key, path, required)) {
      if (asBool(item) === null) this.wrongType(path, 'true or false', item);
    }
  }

  /**
   * @param {string} obj
   * @param {string} key
   * @param {string} parent
   */
  documentId(obj, key, parent) {
    const path = join(parent, key);
    for (const text of this.string(obj, key, parent, OPTIONAL)) this.parseDocumentId(path, text);
  }

  /**
   * @param {string} path
   * @param {string} text
   */
  parseDocumentId(path, text) {
    const problem = documentIdProblem(text);
    if (problem !== null) {
      this.report(path, 'bad_document_id', `${rustDebug(shorten(text))} is not a document id: ${problem}`);
    }
  }

  /**
   * Every concurrent map stored under `key`.
   * @param {string} obj
   * @param {string} key
   * @param {string} parent
   * @param {boolean} required
   * @returns {string[]}
   */
  maps(obj, key, parent, required) {
    const path = join(parent, key);
    /** @type {string[]} */
    const found = [];
    for (const item of this.values(obj, key, path, required)) {
      if (item.t === 'map') found.push(item.id);
      else this.wrongType(path, 'a map', item);
    }
    return found;
  }

  /**
   * Every entry of every concurrent list under `key` (at the root), checked
   * against `max` entries, with the path of each entry.
   * @param {string} obj
   * @param {string} key
   * @param {number} max
   * @returns {Array<[string, Item]>}
   */
  listEntries(obj, key, max) {
    const path = join('', key);
    /** @type {Array<[string, Item]>} */
    const entries = [];
    for (const item of this.values(obj, key, path, REQUIRED)) {
      if (item.t !== 'list') {
        this.wrongType(path, 'a list', item);
        continue;
      }
      const count = length(this.r, item.id);
      if (count > max) this.report(path, 'too_many', `has ${count} entries; at most ${max} are allowed`);
      for (let i = 0; i < count; i++) {
        for (const entry of all(this.r, item.id, i)) entries.push([index(path, i), entry]);
      }
    }
    return entries;
  }

  /**
   * A set stored as a map `member → true`; `memberOk` reports a bad member.
   * @param {string} obj
   * @param {string} key
   * @param {string} parent
   * @param {boolean} required
   * @param {(path: string, name: string) => void} memberOk
   */
  set(obj, key, parent, required, memberOk) {
    const path = join(parent, key);
    for (const set of this.maps(obj, key, parent, required)) {
      for (const name of keys(this.r, set)) {
        const memberPath = member(path, name);
        if (isBlank(name)) this.report(memberPath, 'empty', 'must not be empty');
        this.textLength(memberPath, name);
        memberOk(memberPath, name);
        for (const item of all(this.r, set, name)) {
          if (asBool(item) === null) this.wrongType(memberPath, 'true', item);
        }
      }
    }
  }

  // --- the record ---

  record() {
    const kinds = this.word(ROOT, F.TYPE, '', REQUIRED, values('recordKind'));
    for (const item of this.values(ROOT, F.SCHEMA, F.SCHEMA, REQUIRED)) {
      const found = asInteger(item);
      if (found === null) this.wrongType(F.SCHEMA, 'an integer', item);
      else if (found !== BigInt(SCHEMA_VERSION)) {
        this.report(
          F.SCHEMA,
          'unsupported_schema',
          `schema version ${found} is not supported; this version reads version ${SCHEMA_VERSION}`,
        );
      }
    }
    for (const code of this.string(ROOT, F.VILLAGE, '', REQUIRED)) {
      const reason = villageCodeProblem(code);
      if (reason !== null) {
        this.report(F.VILLAGE, 'bad_village_code', `${rustDebug(shorten(code))} is not a village code: ${reason}`);
      }
    }
    this.time(ROOT, F.CREATED_AT, '', REQUIRED);
    this.name(ROOT, F.CREATED_BY, '');
    for (const kind of values('recordKind')) {
      if (!kinds.includes(kind)) continue;
      if (kind === 'dispute') this.dispute();
      else if (kind === 'visit') this.visit();
    }
  }

  dispute() {
    this.string(ROOT, F.TITLE, '', REQUIRED);
    this.string(ROOT, F.DESCRIPTION, '', REQUIRED);
    this.word(ROOT, F.CATEGORY, '', REQUIRED, values('category'));
    this.word(ROOT, F.RISK, '', REQUIRED, values('risk'));

    for (const [path, entry] of this.listEntries(ROOT, F.PARTIES, this.limits.maxParties)) {
      if (entry.t !== 'map') {
        this.wrongType(path, 'a map', entry);
        continue;
      }
      this.name(entry.id, F.NAME, path);
      this.word(entry.id, F.ROLE, path, REQUIRED, values('partyRole'));
      this.string(entry.id, F.PHONE, path, OPTIONAL);
      this.string(entry.id, F.NOTE, path, OPTIONAL);
    }

    this.set(ROOT, F.ASSIGNEES, '', REQUIRED, () => {});

    for (const [path, entry] of this.listEntries(ROOT, F.EVENTS, this.limits.maxEvents)) {
      if (entry.t !== 'map') {
        this.wrongType(path, 'a map', entry);
        continue;
      }
      this.time(entry.id, F.AT, path, REQUIRED);
      this.name(entry.id, F.BY, path);
      const kinds = this.word(entry.id, F.KIND, path, REQUIRED, values('eventKind'));
      const escalation = kinds.includes('escalated');
      this.word(entry.id, F.LEVEL, path, escalation ? REQUIRED : OPTIONAL, values('level'));
      this.string(entry.id, F.OUTCOME, path, OPTIONAL);
      this.string(entry.id, F.NOTE, path, OPTIONAL);
      this.boolean(entry.id, F.SATISFIED, path, OPTIONAL);
      if (kinds.includes('assigned')) this.name(entry.id, F.ASSIGNEE, path);
      else this.string(entry.id, F.ASSIGNEE, path, OPTIONAL);
      this.time(entry.id, F.DUE_AT, path, kinds.includes('supervised') ? REQUIRED : OPTIONAL);
    }

    for (const links of this.maps(ROOT, F.LINKS, '', OPTIONAL)) {
      this.documentId(links, F.DUPLICATE_OF, F.LINKS);
      this.set(links, F.RELATED, F.LINKS, OPTIONAL, (path, name) => this.parseDocumentId(path, name));
      this.set(links, F.NOT_DUPLICATES, F.LINKS, OPTIONAL, (path, name) => this.parseDocumentId(path, name));
    }
  }

  visit() {
    this.time(ROOT, F.VISITED_AT, '', REQUIRED);
    this.name(ROOT, F.HOUSEHOLD, '');
    this.string(ROOT, F.GROUP, '', OPTIONAL);
    const topics = values('topic');
    this.set(ROOT, F.TOPICS, '', REQUIRED, (path, name) => {
      if (!topics.includes(name)) {
        this.report(path, 'unknown_value', `${rustDebug(shorten(name))} is not one of ${topics.join(', ')}`);
      }
    });
    this.word(ROOT, F.SENTIMENT, '', REQUIRED, values('sentiment'));
    this.string(ROOT, F.NOTES, '', REQUIRED);
    for (const followUp of this.maps(ROOT, F.FOLLOW_UP, '', REQUIRED)) {
      this.boolean(followUp, F.NEEDED, F.FOLLOW_UP, REQUIRED);
      this.boolean(followUp, F.DONE, F.FOLLOW_UP, REQUIRED);
      this.time(followUp, F.DUE_AT, F.FOLLOW_UP, OPTIONAL);
    }
    this.documentId(ROOT, F.LINKED_DISPUTE, '');
  }

  /**
   * Every string of the document, in fields known or not, within the text
   * limit, and all of them (map keys included) within the total limit.
   */
  everyString() {
    let total = 0;
    /** @type {Array<[string, string, boolean]>} object, path, whether a map */
    const pending = [[ROOT, '', true]];
    while (pending.length > 0) {
      const [obj, path, isMap] = /** @type {[string, string, boolean]} */ (pending.pop());
      /** @type {Array<[string|number, string]>} */
      let props;
      if (isMap) {
        props = keys(this.r, obj).map((key) => {
          total += charCount(key);
          return [key, join(path, key)];
        });
      } else {
        const n = length(this.r, obj);
        props = [];
        for (let i = 0; i < n; i++) props.push([i, index(path, i)]);
      }
      for (const [prop, at] of props) {
        for (const item of all(this.r, obj, prop)) {
          if (item.t === 'str') {
            const chars = charCount(item.v);
            total += chars;
            if (chars > this.limits.maxTextChars) {
              this.report(at, 'too_long', `has ${chars} characters; at most ${this.limits.maxTextChars} are allowed`);
            }
          } else if (item.t === 'map' || item.t === 'list') {
            pending.push([item.id, at, item.t === 'map']);
          }
        }
      }
    }
    if (total > this.limits.maxTotalChars) {
      this.report(
        '',
        'too_much_text',
        `holds ${total} characters in all its fields; at most ${this.limits.maxTotalChars} are allowed`,
      );
    }
  }

  // --- against the previous version ---

  /** A new record's fixed fields hold one value each. */
  singleValuedAtCreation() {
    for (const key of IMMUTABLE) {
      const count = all(this.r, ROOT, key).length;
      if (count > 1) {
        this.report(
          key,
          'conflicting_at_creation',
          `has ${count} conflicting values; it is fixed when the record is created and must have exactly one`,
        );
      }
    }
  }

  /**
   * @param {Handle} previous
   */
  unchangedSince(previous) {
    /**
     * @param {string} key
     * @param {string} before
     * @param {string} after
     */
    const changed = (key, before, after) =>
      this.report(
        key,
        'immutable_changed',
        `was ${before} and cannot become ${after}: it is fixed when the record is created`,
      );
    for (const key of IMMUTABLE) {
      const before = all(previous, ROOT, key);
      const shown = before[before.length - 1];
      if (shown === undefined) continue;
      const after = all(this.r, ROOT, key);
      // The value the record shows is what places it; a change that makes
      // another of the stored values win changes the field.
      const nowShown = after[after.length - 1];
      if (nowShown !== undefined && !same(shown, nowShown) && before.some((b) => same(b, nowShown))) {
        changed(key, describe(shown), describe(nowShown));
      }
      if (after.length === 0) changed(key, describe(shown), 'removed');
      for (const item of after) {
        if (!before.some((b) => same(b, item))) changed(key, describe(shown), describe(item));
      }
    }
    this.timelineKept(previous);
  }

  /**
   * Every event of the previous version is still there, unaltered.
   * @param {Handle} previous
   */
  timelineKept(previous) {
    /** @type {Map<string, [string, Snapshot]>} */
    const now = new Map();
    for (const [path, id, snapshot] of timeline(this.r)) now.set(id, [path, snapshot]);
    for (const [path, id, before] of timeline(previous)) {
      const found = now.get(id);
      if (found === undefined) {
        this.report(path, 'timeline_rewritten', 'was removed; the timeline is append-only');
      } else if (!identical(found[1], before)) {
        this.report(found[0], 'timeline_rewritten', 'was altered; the timeline is append-only');
      }
    }
  }
}

/**
 * Whether two values of a fixed field are the same value, whatever
 * representation each client chose (a timestamp and an integer of the same
 * milliseconds; a Text and a string of the same characters).
 * @param {Item} a
 * @param {Item} b
 */
function same(a, b) {
  if (itemEquals(a, b)) return true;
  const x = asMillisExact(a);
  const y = asMillisExact(b);
  return typeof x === 'bigint' && typeof y === 'bigint' && x === y;
}

/** The fields of an event the append-only rule protects. */
const EVENT_FIELDS = [F.AT, F.BY, F.KIND, F.LEVEL, F.OUTCOME, F.NOTE, F.SATISFIED, F.ASSIGNEE, F.DUE_AT];

/** @typedef {Array<[string, Item[]]>} Snapshot */

/**
 * Whether two snapshots hold the same values (floats compared as the same
 * number, a NaN equal to itself).
 * @param {Snapshot} a
 * @param {Snapshot} b
 */
function identical(a, b) {
  /**
   * @param {Item} x
   * @param {Item} y
   */
  const itemEq = (x, y) => (x.t === 'f64' && y.t === 'f64' ? Object.is(x.v, y.v) : itemEquals(x, y));
  return (
    a.length === b.length &&
    a.every(([ka, va], i) => {
      const [kb, vb] = b[i];
      return ka === kb && va.length === vb.length && va.every((x, j) => itemEq(x, vb[j]));
    })
  );
}

/**
 * Every entry of the timeline (of every concurrent copy of the list): its
 * path, the id that created it, and its content.
 * @param {Handle} r
 * @returns {Array<[string, string, Snapshot]>}
 */
function timeline(r) {
  /** @type {Array<[string, string, Snapshot]>} */
  const entries = [];
  for (const list of lists(r, ROOT, F.EVENTS)) {
    const n = length(r, list);
    for (let i = 0; i < n; i++) {
      for (const item of all(r, list, i)) {
        /** @type {Snapshot} */
        const snapshot =
          item.t === 'map' ? EVENT_FIELDS.map((key) => [key, all(r, item.id, key)]) : [['', [item]]];
        entries.push([index(F.EVENTS, i), item.id, snapshot]);
      }
    }
  }
  return entries;
}

/**
 * The operations in the history of the version `doc` is.
 * @param {Doc} doc
 * @param {Handle} r
 */
function historyOps(doc, r) {
  if (r.latest) return A.stats(doc).numOps;
  const fork = A.getBackend(doc).fork(undefined, A.getHeads(doc));
  try {
    return fork.stats().numOps;
  } finally {
    fork.free();
  }
}

/**
 * Removes repeated violations (a known field over the text limit is found
 * by both walks).
 * @param {ValidationError[]} errors
 */
function distinct(errors) {
  const seen = new Set();
  return errors.filter((e) => {
    const key = `${e.field}\u0000${e.code}\u0000${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

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
export function validate(doc, previous, savedSize, limits = LIMITS, now = undefined) {
  const r = handleOf(doc);
  const check = new Check(r, limits);
  if (savedSize > limits.maxDocumentBytes) {
    check.report('', 'too_large', `is ${savedSize} bytes when saved; at most ${limits.maxDocumentBytes} are allowed`);
  }
  const ops = historyOps(doc, r);
  if (ops > limits.maxHistoryOps) {
    // Reading a document this large is the cost being refused.
    check.report('', 'too_much_history', `has a history of ${ops} operations; at most ${limits.maxHistoryOps} are allowed`);
    return check.errors;
  }
  if (previous) withReader(previous, (p) => check.unchangedSince(p));
  else check.singleValuedAtCreation();
  check.record();
  check.everyString();
  const errors = distinct(check.errors);
  if (now !== undefined) errors.push(...futureTimes(r, previous, now));
  return errors;
}

/**
 * How far after the validating clock's "now" a recorded time may lie (a
 * day: phones' clocks drift); shared/src/record/validate.rs
 * FUTURE_ALLOWANCE_MILLIS. It applies to when things happened (`createdAt`,
 * an event's `at`, `visitedAt`), not to deadlines (`dueAt`).
 */
export const FUTURE_ALLOWANCE_MILLIS = /** @type {number} */ (/** @type {any} */ (SCHEMA).futureAllowanceMillis ?? 86_400_000);

/**
 * The times a change records beyond `now` and the allowance: `createdAt` of
 * a new record, the `at` of events `previous` does not hold, `visitedAt`
 * values `previous` does not hold (a port of the Rust `future_times`).
 * @param {Handle} r
 * @param {Doc|null} previous
 * @param {number} now
 * @returns {ValidationError[]}
 */
function futureTimes(r, previous, now) {
  const latest = BigInt(Math.trunc(now)) + BigInt(FUTURE_ALLOWANCE_MILLIS);
  /** @type {ValidationError[]} */
  const errors = [];
  /**
   * @param {string} field
   * @param {Item} item
   */
  const judge = (field, item) => {
    const at = asMillisExact(item);
    if (at === null) return;
    // A timestamp beyond what a Date holds (year 275760) is later still.
    if (at !== undefined && at <= latest) return;
    const when = at === undefined ? 'beyond the year 275760' : iso(Number(at));
    errors.push(error(field, 'in_the_future', `is ${when}, more than a day ahead of the clock that checks it (${iso(now)}); is the device's clock right?`));
  };
  if (!previous) for (const item of all(r, ROOT, F.CREATED_AT)) judge(F.CREATED_AT, item);
  /** @type {Item[]} */
  const held = previous ? withReader(previous, (p) => all(p, ROOT, F.VISITED_AT)) : [];
  for (const item of all(r, ROOT, F.VISITED_AT)) {
    if (!held.some((h) => same(h, item))) judge(F.VISITED_AT, item);
  }
  const stored = new Set(previous ? withReader(previous, (p) => timeline(p).map(([, id]) => id)) : []);
  for (const [path, id] of timeline(r)) {
    if (stored.has(id)) continue;
    for (const item of all(r, id, F.AT)) judge(join(path, F.AT), item);
  }
  return errors;
}

/**
 * A time as the Rust validator writes it in messages.
 * @param {number} ms
 */
function iso(ms) {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? `${ms} ms` : d.toISOString();
}

/**
 * Checks that what a change says about its own author names the person
 * holding the sending device: a new record's `createdBy`, and the `by` of
 * every event the change adds (events already stored keep theirs).
 * @param {Doc} doc
 * @param {Doc|null} previous the stored version; null for a new record
 * @param {string} person
 * @returns {ValidationError[]} empty when every author is `person`
 */
export function checkAuthorship(doc, previous, person) {
  const r = handleOf(doc);
  /** @type {ValidationError[]} */
  const errors = [];
  /**
   * @param {string} path
   * @param {Item} item
   */
  const check = (path, item) => {
    if (item.t === 'str' && item.v === person) return;
    const value = item.t === 'str' ? shorten(item.v) : describe(item);
    errors.push(
      error(
        path,
        'not_the_sender',
        `is ${rustDebug(value)}, but the sending device belongs to ${rustDebug(shorten(person))}; a device writes only in its holder's name`,
      ),
    );
  };
  if (!previous) {
    for (const item of all(r, ROOT, F.CREATED_BY)) check(F.CREATED_BY, item);
  }
  const stored = new Set(previous ? withReader(previous, (p) => timeline(p).map(([, id]) => id)) : []);
  for (const [path, id] of timeline(r)) {
    if (stored.has(id)) continue;
    for (const item of all(r, id, F.BY)) check(join(path, F.BY), item);
  }
  return errors;
}

/**
 * The `links.duplicateOf` values of `doc` that `previous` does not hold:
 * the duplicate links a change sets (sorted, without repeats).
 * @param {Doc} doc
 * @param {Doc|null} previous
 * @returns {string[]}
 */
export function newDuplicateLinks(doc, previous) {
  /** @param {Handle} r */
  const linksOf = (r) => {
    /** @type {string[]} */
    const found = [];
    for (const links of all(r, ROOT, F.LINKS)) {
      if (links.t !== 'map') continue;
      for (const item of all(r, links.id, F.DUPLICATE_OF)) if (item.t === 'str') found.push(item.v);
    }
    return found;
  };
  const before = previous ? linksOf(handleOf(previous)) : [];
  return [...new Set(linksOf(handleOf(doc)).filter((link) => !before.includes(link)))].sort(compareStrings);
}
