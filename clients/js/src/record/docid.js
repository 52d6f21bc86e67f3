// Document ids as the Rust crate parses them (protocol/src/ids.rs): the
// base58check text (Bitcoin alphabet, 4-byte double-SHA-256 checksum) of 1 to
// 64 bytes. ids.js makes and parses ids for sync; this is the check
// validation and reading use, with the Rust reasons.
import bs58check from 'bs58check';

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const MAX_DOCUMENT_ID_BYTES = 64;

/**
 * Decodes base58 text to bytes (null when a character is not in the
 * alphabet).
 * @param {string} text
 * @returns {Uint8Array|null}
 */
function base58(text) {
  /** @type {number[]} */
  const bytes = [];
  for (const ch of text) {
    let carry = ALPHABET.indexOf(ch);
    if (carry < 0 || ch.length !== 1) return null;
    for (let i = 0; i < bytes.length; i++) {
      carry += bytes[i] * 58;
      bytes[i] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  for (const ch of text) {
    if (ch !== '1') break;
    bytes.push(0);
  }
  return Uint8Array.from(bytes.reverse());
}

/**
 * The first character outside the alphabet, worded as the Rust bs58 crate.
 * @param {string} text
 */
function notBase58(text) {
  let byte = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp > 0x7f) return `provided string contained non-ascii character starting at byte ${byte}`;
    if (!ALPHABET.includes(ch)) return `provided string contained invalid character ${charDebug(cp)} at byte ${byte}`;
    byte += 1;
  }
  return 'provided string is not base58';
}

/**
 * An ASCII character as Rust's `{:?}` writes a char.
 * @param {number} cp
 */
function charDebug(cp) {
  const named = { 0: '\\0', 9: '\\t', 10: '\\n', 13: '\\r', 39: "\\'", 92: '\\\\' };
  const body = /** @type {Record<number, string>} */ (named)[cp] ?? (cp < 0x20 || cp === 0x7f ? `\\u{${cp.toString(16)}}` : String.fromCharCode(cp));
  return `'${body}'`;
}

/**
 * Why `text` is not a document id, worded as the Rust `IdError`, or null
 * when it is one.
 * @param {string} text
 * @returns {string|null}
 */
export function documentIdProblem(text) {
  if (text.length === 0) return 'document id is empty';
  const utf8 = new TextEncoder().encode(text).length;
  if (utf8 > (MAX_DOCUMENT_ID_BYTES + 4) * 2) {
    return `document id has ${utf8} bytes; at most ${MAX_DOCUMENT_ID_BYTES} are allowed`;
  }
  const raw = base58(text);
  if (raw === null) return `document id is not base58 text: ${notBase58(text)}`;
  const checksumError = 'document id checksum does not match (mistyped or truncated id)';
  if (raw.length < 4) return checksumError;
  const payload = raw.subarray(0, raw.length - 4);
  if (bs58check.encode(payload) !== text) return checksumError;
  if (payload.length === 0) return 'document id is empty';
  if (payload.length > MAX_DOCUMENT_ID_BYTES) {
    return `document id has ${payload.length} bytes; at most ${MAX_DOCUMENT_ID_BYTES} are allowed`;
  }
  return null;
}

/**
 * Whether `text` is a document id.
 * @param {unknown} text
 * @returns {text is string}
 */
export function isDocumentId(text) {
  return typeof text === 'string' && documentIdProblem(text) === null;
}

/**
 * The bytes a document id stands for (null when it is not one).
 * @param {string} text
 * @returns {Uint8Array|null}
 */
export function documentIdBytes(text) {
  if (documentIdProblem(text) !== null) return null;
  const raw = base58(text);
  return raw === null ? null : raw.subarray(0, raw.length - 4);
}
