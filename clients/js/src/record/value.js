// Reading values out of a record document, whatever shape a client gave
// them (mirrors shared/src/record/value.rs).
//
// A record document is outside input. Everything here reads through the
// low-level Automerge handle, never throws on a strange shape, and
// normalises what it finds into an Item:
// - a string reads the same whether it is a scalar string or a Text object;
// - a time reads from a timestamp, an integer, an unsigned integer or a
//   finite float (milliseconds since the epoch);
// - every concurrent value of a field is available (`all`), ordered by the id
//   of the operation that wrote it, so merge rules and validation see
//   conflicts exactly as every other replica (and the Rust code) sees them.
//   The last one is the value Automerge itself shows (`winner`).
import { A } from '../automerge.js';
import { ESCAPED_RANGES } from './rust_debug_table.js';

/**
 * One value of a field.
 * - `str`: a scalar string or the content of a Text object (`text` says which)
 * - `int`, `uint`: `v` is a bigint; `f64`, `counter`: a number;
 *   `timestamp`: milliseconds as a number (`null` when outside what a JS
 *   Date can hold: still a time, of unknown value)
 * - `bool`, `null`, `bytes`, `unknown`
 * - `map`, `list`: `id` is the object id
 * `id` is always the id of the operation that wrote the value.
 * @typedef {{t: 'str', v: string, id: string, text: boolean}
 *   | {t: 'int'|'uint', v: bigint, id: string}
 *   | {t: 'f64'|'counter', v: number, id: string}
 *   | {t: 'timestamp', v: number|null, id: string}
 *   | {t: 'bool', v: boolean, id: string}
 *   | {t: 'null'|'bytes'|'unknown'|'map'|'list', v?: undefined, id: string}} Item
 */

/** @typedef {ReturnType<typeof A.getBackend>} Backend */
/** @typedef {string} ObjId */

/**
 * Reads of one version of a document through its low-level handle. An
 * Automerge document that has been changed since keeps sharing its handle
 * with the newer one; its reads then go through its own heads.
 * @typedef {object} Handle
 * @property {(obj: ObjId, prop: string|number) => any[]} getAll
 * @property {(obj: ObjId) => string[]} keys
 * @property {(obj: ObjId) => number} length
 * @property {(obj: ObjId) => string} text
 * @property {(obj: ObjId, prop: string|number) => any} getWithType
 * @property {(obj: ObjId) => any} materialize
 * @property {boolean} latest whether this is the handle's current version
 */

/**
 * @param {Backend} h
 * @param {string[]|undefined} heads
 * @returns {Handle}
 */
function reader(h, heads) {
  return {
    getAll: (obj, prop) => h.getAll(obj, prop, heads),
    keys: (obj) => h.keys(obj, heads),
    length: (obj) => h.length(obj, heads),
    text: (obj) => h.text(obj, heads),
    getWithType: (obj, prop) => h.getWithType(obj, prop, heads),
    materialize: (obj) => h.materialize(obj, heads),
    latest: heads === undefined,
  };
}

/**
 * Reads of the document's current version, pending edits of a change in
 * progress included.
 * @param {Backend} h
 * @returns {Handle}
 */
export function liveReader(h) {
  return reader(h, undefined);
}

/**
 * Reads of the version of the document `doc` is.
 * @param {import('@automerge/automerge').Doc<unknown>} doc
 * @returns {Handle}
 */
export function handleOf(doc) {
  const h = A.getBackend(doc);
  const heads = A.getHeads(doc);
  const current = h.getHeads();
  const latest = heads.length === current.length && heads.every((x, i) => x === current[i]);
  return reader(h, latest ? undefined : heads);
}

/**
 * Runs `fn` with reads of the version of the document `doc` is. An old
 * version is copied out first (reads of history are several times slower
 * than reads of a current copy when a check reads every field).
 * @template T
 * @param {import('@automerge/automerge').Doc<unknown>} doc
 * @param {(r: Handle) => T} fn
 * @returns {T}
 */
export function withReader(doc, fn) {
  const r = handleOf(doc);
  if (r.latest) return fn(r);
  const fork = A.getBackend(doc).fork(undefined, A.getHeads(doc));
  try {
    return fn(liveReader(fork));
  } finally {
    fork.free();
  }
}

/**
 * Compares two operation ids ("counter@actor") as Automerge orders them:
 * by counter, then by actor bytes.
 * @param {string} a
 * @param {string} b
 */
export function compareOpIds(a, b) {
  const at = a.indexOf('@');
  const bt = b.indexOf('@');
  const ca = at < 0 ? 0 : Number(a.slice(0, at));
  const cb = bt < 0 ? 0 : Number(b.slice(0, bt));
  if (ca !== cb) return ca < cb ? -1 : 1;
  const xa = a.slice(at + 1);
  const xb = b.slice(bt + 1);
  return xa < xb ? -1 : xa > xb ? 1 : 0;
}

/**
 * @param {Handle} h
 * @param {any[]} raw one entry of `getAll`
 * @returns {Item}
 */
function toItem(h, raw) {
  const [type, value, opId] = raw;
  switch (type) {
    case 'map':
    case 'table':
      return { t: 'map', id: value };
    case 'list':
      return { t: 'list', id: value };
    case 'text': {
      // A Text object that cannot be read is as good as no string; reading it
      // as empty keeps every replica in agreement.
      let text = '';
      try {
        text = h.text(value);
      } catch {
        text = '';
      }
      return { t: 'str', v: text, id: value, text: true };
    }
    case 'str':
      return { t: 'str', v: String(value), id: opId, text: false };
    case 'int':
      return { t: 'int', v: BigInt(value), id: opId };
    case 'uint':
      return { t: 'uint', v: BigInt(value), id: opId };
    case 'f64':
      return { t: 'f64', v: Number(value), id: opId };
    case 'timestamp': {
      const ms = value instanceof Date ? value.getTime() : Number(value);
      return { t: 'timestamp', v: Number.isFinite(ms) ? ms : null, id: opId };
    }
    case 'boolean':
      return { t: 'bool', v: Boolean(value), id: opId };
    case 'null':
      return { t: 'null', id: opId };
    case 'counter':
      return { t: 'counter', v: Number(value), id: opId };
    case 'bytes':
      return { t: 'bytes', id: opId };
    default:
      return { t: 'unknown', id: opId ?? String(value) };
  }
}

/** @param {any[]} raw */
function rawId(raw) {
  return raw.length >= 3 ? raw[2] : raw[1];
}

/**
 * Every concurrent value of `prop` in `obj`, ordered by the id of the
 * operation that wrote it (the last one is Automerge's winner). Empty when
 * the field is absent or `obj` is not a container that has it.
 * @param {Handle} h
 * @param {ObjId} obj
 * @param {string|number} prop
 * @returns {Item[]}
 */
export function all(h, obj, prop) {
  let raws;
  try {
    raws = h.getAll(obj, prop);
  } catch {
    return [];
  }
  if (!Array.isArray(raws)) return [];
  return [...raws].sort((a, b) => compareOpIds(rawId(a), rawId(b))).map((raw) => toItem(h, raw));
}

/**
 * The value Automerge shows: the one written by the greatest operation id.
 * @param {Handle} h
 * @param {ObjId} obj
 * @param {string|number} prop
 * @returns {Item|undefined}
 */
export function winner(h, obj, prop) {
  const values = all(h, obj, prop);
  return values[values.length - 1];
}

/**
 * The winning value of a string field, if it is a string.
 * @param {Handle} h
 * @param {ObjId} obj
 * @param {string} key
 * @returns {string|null}
 */
export function string(h, obj, key) {
  const item = winner(h, obj, key);
  return item?.t === 'str' ? item.v : null;
}

/**
 * The winning value of a time field, if it is a time.
 * @param {Handle} h
 * @param {ObjId} obj
 * @param {string} key
 * @returns {number|null}
 */
export function millis(h, obj, key) {
  const item = winner(h, obj, key);
  return item ? asMillis(item) : null;
}

/**
 * Every concurrent map stored under `prop`.
 * @param {Handle} h
 * @param {ObjId} obj
 * @param {string|number} prop
 * @returns {ObjId[]}
 */
export function maps(h, obj, prop) {
  return all(h, obj, prop).filter((i) => i.t === 'map').map((i) => i.id);
}

/**
 * Every concurrent list stored under `prop`.
 * @param {Handle} h
 * @param {ObjId} obj
 * @param {string|number} prop
 * @returns {ObjId[]}
 */
export function lists(h, obj, prop) {
  return all(h, obj, prop).filter((i) => i.t === 'list').map((i) => i.id);
}

/**
 * The winning map under `prop`, if the winner is a map.
 * @param {Handle} h
 * @param {ObjId} obj
 * @param {string|number} prop
 * @returns {ObjId|null}
 */
export function winningMap(h, obj, prop) {
  const item = winner(h, obj, prop);
  return item?.t === 'map' ? item.id : null;
}

/**
 * The winning list under `prop`, if the winner is a list.
 * @param {Handle} h
 * @param {ObjId} obj
 * @param {string|number} prop
 * @returns {ObjId|null}
 */
export function winningList(h, obj, prop) {
  const item = winner(h, obj, prop);
  return item?.t === 'list' ? item.id : null;
}

/**
 * The keys of a map object (empty when it is not a map).
 * @param {Handle} h
 * @param {ObjId} obj
 * @returns {string[]}
 */
export function keys(h, obj) {
  try {
    const k = h.keys(obj);
    return Array.isArray(k) ? k : [];
  } catch {
    return [];
  }
}

/**
 * The number of elements of a list object.
 * @param {Handle} h
 * @param {ObjId} obj
 * @returns {number}
 */
export function length(h, obj) {
  try {
    return h.length(obj);
  } catch {
    return 0;
  }
}

const I64_MAX = 2n ** 63n - 1n;
const F64_LIMIT = 9_223_372_036_854_775_808; // 2^63

/**
 * Milliseconds since the epoch as an exact bigint, from any of the numeric
 * forms clients write; a float must be finite and in range and is
 * truncated. `undefined` for a timestamp outside what a JS Date can show
 * (a time, but of unknown value); `null` when the value is no time.
 * @param {Item} item
 * @returns {bigint|null|undefined}
 */
export function asMillisExact(item) {
  switch (item.t) {
    case 'timestamp':
      return item.v === null ? undefined : BigInt(item.v);
    case 'int':
      return item.v;
    case 'uint':
      return item.v <= I64_MAX ? item.v : null;
    case 'f64': {
      const f = Math.trunc(item.v);
      return Number.isFinite(f) && f >= -F64_LIMIT && f < F64_LIMIT ? BigInt(f) : null;
    }
    default:
      return null;
  }
}

/**
 * Whether the value reads as a time.
 * @param {Item} item
 */
export function isTime(item) {
  return asMillisExact(item) !== null;
}

/**
 * Milliseconds since the epoch (a JS number), or null when the value is no
 * time this library can use.
 * @param {Item} item
 * @returns {number|null}
 */
export function asMillis(item) {
  const exact = asMillisExact(item);
  return typeof exact === 'bigint' ? Number(exact) : null;
}

/**
 * A whole number, from an integer or an integral float.
 * @param {Item} item
 * @returns {bigint|null}
 */
export function asInteger(item) {
  switch (item.t) {
    case 'int':
      return item.v;
    case 'uint':
      return item.v <= I64_MAX ? item.v : null;
    case 'f64':
      if (!Number.isFinite(item.v) || item.v % 1 !== 0) return null;
      return item.v >= -F64_LIMIT && item.v < F64_LIMIT ? BigInt(item.v) : null;
    default:
      return null;
  }
}

/**
 * @param {Item} item
 * @returns {boolean|null}
 */
export function asBool(item) {
  return item.t === 'bool' ? item.v : null;
}

/**
 * What kind of value this is, in words for messages.
 * @param {Item} item
 */
export function typeName(item) {
  switch (item.t) {
    case 'str':
      return 'a string';
    case 'int':
    case 'uint':
      return 'an integer';
    case 'f64':
      return 'a number';
    case 'timestamp':
      return 'a timestamp';
    case 'bool':
      return 'a boolean';
    case 'null':
      return 'null';
    case 'counter':
      return 'a counter';
    case 'bytes':
      return 'bytes';
    case 'map':
      return 'a map';
    case 'list':
      return 'a list';
    default:
      return 'a value of unknown type';
  }
}

/**
 * A short rendering for messages about changed values.
 * @param {Item} item
 * @returns {string}
 */
export function describe(item) {
  switch (item.t) {
    case 'str':
      return rustDebug(shorten(item.v));
    case 'int':
    case 'uint':
    case 'counter':
      return String(item.v);
    case 'timestamp':
      return item.v === null ? 'a timestamp' : String(item.v);
    case 'f64':
      return rustFloat(item.v);
    case 'bool':
      return String(item.v);
    default:
      return typeName(item);
  }
}

/**
 * A float as Rust's `{}` writes it: the shortest digits that read back,
 * never in exponent notation; `inf`, `-inf`, `NaN`, `-0`.
 * @param {number} f
 */
export function rustFloat(f) {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Infinity) return 'inf';
  if (f === -Infinity) return '-inf';
  if (Object.is(f, -0)) return '-0';
  const text = String(f);
  const e = text.indexOf('e');
  if (e < 0) return text;
  const sign = text.startsWith('-') ? '-' : '';
  const mantissa = text.slice(sign.length, e);
  const exponent = Number(text.slice(e + 1));
  const [whole, fraction = ''] = mantissa.split('.');
  const digits = whole + fraction;
  const point = whole.length + exponent;
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/**
 * Whether two items are the same value (Rust `Item == Item`): strings by
 * content, objects by id, floats by IEEE equality.
 * @param {Item} a
 * @param {Item} b
 */
export function itemEquals(a, b) {
  if (a.t !== b.t) return false;
  switch (a.t) {
    case 'map':
    case 'list':
      return a.id === b.id;
    case 'null':
    case 'bytes':
    case 'unknown':
      // As in Rust, where these carry no content to compare.
      return true;
    default:
      return a.v === /** @type {any} */ (b).v;
  }
}

/**
 * The number of characters (Unicode scalar values) of a string, as Rust's
 * `chars().count()`.
 * @param {string} text
 */
export function charCount(text) {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/**
 * At most 64 characters of `text`, with "…" when cut.
 * @param {string} text
 */
export function shorten(text) {
  const MAX = 64;
  let count = 0;
  let i = 0;
  while (i < text.length && count < MAX) {
    const c = text.codePointAt(i) ?? 0;
    i += c > 0xffff ? 2 : 1;
    count++;
  }
  return i < text.length ? `${text.slice(0, i)}…` : text;
}

// Rust's `char::is_whitespace` (the Unicode White_Space property), which
// `str::trim` strips; JavaScript's `trim` strips a slightly different set.
const RUST_WS = '\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const TRIM = new RegExp(`^[${RUST_WS}]+|[${RUST_WS}]+$`, 'gu');

/**
 * `str::trim` as Rust does it.
 * @param {string} text
 */
export function rustTrim(text) {
  return text.replace(TRIM, '');
}

/**
 * Whether a string is empty or only white space (Rust `trim().is_empty()`).
 * @param {string} text
 */
export function isBlank(text) {
  return rustTrim(text) === '';
}

/**
 * Compares strings by code points, as Rust orders `String`s (byte order of
 * UTF-8), not by UTF-16 units as `<` does.
 * @param {string} a
 * @param {string} b
 */
export function compareStrings(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a.charCodeAt(i) !== b.charCodeAt(i)) {
      const x = a.codePointAt(i) ?? 0;
      const y = b.codePointAt(i) ?? 0;
      return x < y ? -1 : 1;
    }
  }
  return a.length - b.length < 0 ? -1 : a.length === b.length ? 0 : 1;
}

/** @param {number} cp */
function escaped(cp) {
  let lo = 0;
  let hi = ESCAPED_RANGES.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [start, end] = ESCAPED_RANGES[mid];
    if (cp < start) hi = mid - 1;
    else if (cp > end) lo = mid + 1;
    else return true;
  }
  return false;
}

/**
 * A string as Rust's `format!("{:?}", text)` writes it, quotes included.
 * @param {string} text
 */
export function rustDebug(text) {
  let out = '"';
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (!escaped(cp)) {
      out += ch;
      continue;
    }
    switch (cp) {
      case 0x00:
        out += '\\0';
        break;
      case 0x09:
        out += '\\t';
        break;
      case 0x0a:
        out += '\\n';
        break;
      case 0x0d:
        out += '\\r';
        break;
      case 0x22:
        out += '\\"';
        break;
      case 0x5c:
        out += '\\\\';
        break;
      default:
        out += `\\u{${cp.toString(16)}}`;
    }
  }
  return `${out}"`;
}
