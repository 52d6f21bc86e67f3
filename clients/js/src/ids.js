// Identifiers: document ids (base58check, as automerge-repo) and this
// install's Automerge actor.
import bs58check from 'bs58check';

/** Longest document id payload accepted, in bytes (as the server). */
export const MAX_DOCUMENT_ID_BYTES = 64;

/** Why an id was refused. */
export class IdError extends Error {
  /**
   * @param {string} code  'bad_document_id' | 'bad_device_id'
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = 'IdError';
    this.code = code;
  }
}

/**
 * `n` random bytes from the platform's CSPRNG.
 * @param {number} n
 */
export function randomBytes(n) {
  const out = new Uint8Array(n);
  globalThis.crypto.getRandomValues(out);
  return out;
}

/**
 * A new random document id: 16 random bytes (a UUID v4, as
 * `Repo.create()` makes them) in base58check text.
 * @returns {string}
 */
export function newDocumentId() {
  const bytes = randomBytes(16);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  return bs58check.encode(bytes);
}

/**
 * The bytes of a document id; throws `IdError` ('bad_document_id') for text
 * that is not base58check of 1 to 64 bytes.
 * @param {string} id
 * @returns {Uint8Array}
 */
export function parseDocumentId(id) {
  if (typeof id !== 'string' || id.length === 0) {
    throw new IdError('bad_document_id', 'a document id is non-empty text');
  }
  let bytes;
  try {
    bytes = bs58check.decode(id);
  } catch {
    throw new IdError('bad_document_id', `${JSON.stringify(id.slice(0, 80))} is not a base58check document id`);
  }
  if (bytes.length < 1 || bytes.length > MAX_DOCUMENT_ID_BYTES) {
    throw new IdError('bad_document_id', `a document id has 1 to ${MAX_DOCUMENT_ID_BYTES} bytes, this one ${bytes.length}`);
  }
  return bytes;
}

/**
 * Whether `id` is a valid document id.
 * @param {unknown} id
 * @returns {boolean}
 */
export function isDocumentId(id) {
  try {
    parseDocumentId(/** @type {string} */ (id));
    return true;
  } catch {
    return false;
  }
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/**
 * This install's Automerge actor for device `deviceId` (a UUID): the
 * device's 16 bytes followed by 4 random bytes, as lowercase hex — the
 * "native" actor form the server attributes to the device.
 * @param {string} deviceId
 * @returns {string}
 */
export function actorFor(deviceId) {
  if (typeof deviceId !== 'string' || !UUID.test(deviceId)) {
    throw new IdError('bad_device_id', `device id ${JSON.stringify(String(deviceId).slice(0, 80))} is not a UUID`);
  }
  return deviceId.replaceAll('-', '').toLowerCase() + toHex(randomBytes(4));
}

/**
 * Lowercase hex of bytes.
 * @param {Uint8Array} bytes
 */
export function toHex(bytes) {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/**
 * Bytes of lowercase or uppercase hex; throws on anything else.
 * @param {string} hex
 */
export function fromHex(hex) {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new IdError('bad_hex', 'not hex text');
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
