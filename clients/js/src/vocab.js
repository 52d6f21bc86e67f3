// The shared vocabulary, limits and fixed fields of the record schema, read
// from schema.json (generated from the Rust crate `fengqiao-shared`). Nothing
// here is typed in by hand: a word, a label or a limit changes in Rust and
// reaches this library through the generated file.
import schema from './schema.json' with { type: 'json' };

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
export const SCHEMA = schema;
/** The schema version this library writes and reads. @type {number} */
export const SCHEMA_VERSION = schema.schemaVersion;
/** The default limits. @type {Readonly<Limits>} */
export const LIMITS = Object.freeze({ ...schema.limits });
/** The fields fixed when a record is created. @type {readonly string[]} */
export const IMMUTABLE = Object.freeze([...schema.immutable]);
/** Validation error codes. @type {readonly string[]} */
export const ERROR_CODES = Object.freeze([...schema.errorCodes]);
/** Days after which an open case counts as overdue. @type {number} */
export const OVERDUE_DAYS = schema.overdueDays;

/** @type {Map<string, string[]>} */
const WORDS = new Map(Object.entries(schema.vocab).map(([name, entries]) => [name, entries.map((e) => e.value)]));

/**
 * The values of a vocabulary, in schema order (risk and sentiment mildest
 * first, level from the grassroots up).
 * @param {VocabName} name
 * @returns {string[]}
 */
export function values(name) {
  const words = WORDS.get(name);
  if (!words) throw new RangeError(`no vocabulary named ${JSON.stringify(name)}`);
  return [...words];
}

/**
 * Whether `value` is a word of the vocabulary.
 * @param {VocabName} name
 * @param {unknown} value
 * @returns {boolean}
 */
export function isValue(name, value) {
  return typeof value === 'string' && (WORDS.get(name)?.includes(value) ?? false);
}

/**
 * The position of `value` in its vocabulary (-1 when unknown): the order of
 * the merge rules (higher is riskier, more severe, higher up).
 * @param {VocabName} name
 * @param {string} value
 * @returns {number}
 */
export function rank(name, value) {
  return WORDS.get(name)?.indexOf(value) ?? -1;
}

/**
 * Every label of every vocabulary in one language:
 * `{risk: {low: '低', ...}, ...}`.
 * @param {Lang} [lang]
 * @returns {Record<string, Record<string, string>>}
 */
export function labels(lang = 'zh') {
  const key = lang === 'en' ? 'en' : 'zh';
  /** @type {Record<string, Record<string, string>>} */
  const out = {};
  for (const [name, entries] of Object.entries(schema.vocab)) {
    out[name] = Object.fromEntries(entries.map((e) => [e.value, e[key]]));
  }
  return out;
}

/**
 * The label of one word, or the word itself when the vocabulary does not
 * know it (a value written by a newer client).
 * @param {VocabName} name
 * @param {string} value
 * @param {Lang} [lang]
 * @returns {string}
 */
export function label(name, value, lang = 'zh') {
  const entry = schema.vocab[name]?.find((e) => e.value === value);
  if (!entry) return value;
  return lang === 'en' ? entry.en : entry.zh;
}
