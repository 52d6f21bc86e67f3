// The batch sync envelope of `POST /v1/sync`, version 1, exactly as
// docs/protocol.md ("Batch sync") and protocol/src/batch.rs define it.
//
// In JavaScript: ids are base58check strings, change hashes lowercase hex
// strings (32-byte CBOR byte strings on the wire), cursors and Automerge
// bytes are Uint8Array. Unknown keys are ignored; anything malformed in a
// response is a `WireError` with code 'bad_response' (or
// 'unsupported_version'), never an exception of another kind.
import { Decoder, Encoder } from 'cbor-x';

import { isDocumentId, fromHex, toHex } from './ids.js';

/** The envelope version spoken here. */
export const BATCH_VERSION = 1;
/** Longest cursor a server may issue, in bytes. */
export const MAX_CURSOR_BYTES = 256;
/** The response budget when none is named: 1 MiB. */
export const DEFAULT_BUDGET = 1024 * 1024;
/** Largest response body accepted, after decompression. */
export const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;
/** Request bodies larger than this are gzipped. */
export const COMPRESS_ABOVE = 1024;

/** A body that does not follow the protocol. */
export class WireError extends Error {
  /**
   * @param {'bad_response' | 'bad_request' | 'unsupported_version'} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = 'WireError';
    this.code = code;
  }
}

const encoder = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  tagUint8Array: false,
  variableMapSize: true,
  pack: false,
});
const decoder = new Decoder({ mapsAsObjects: false, useRecords: false });

/**
 * @typedef {{id: string, heads: string[], changes?: Uint8Array}} DocUpload
 * @typedef {{v?: number, cursor?: Uint8Array | null, budget?: number, docs?: DocUpload[]}} SyncRequest
 * @typedef {{code: string, message: string}} ErrorBody
 * @typedef {{id: string, heads: string[], data: Uint8Array, error: ErrorBody | null, resend: boolean}} DocResult
 * @typedef {{v: number, cursor: Uint8Array, more: boolean, docs: DocResult[], purge: string[],
 *            reset: boolean, remaining: number | null}} SyncResponse
 */

/**
 * Encodes a sync request as CBOR (fields left out as the Rust side leaves
 * them out: no cursor to bootstrap, no docs when there are none, no changes
 * when empty).
 * @param {SyncRequest} request
 * @returns {Uint8Array}
 */
export function encodeRequest(request) {
  /** @type {Record<string, unknown>} */
  const out = { v: BATCH_VERSION };
  if (request.cursor != null && request.cursor.length > 0) {
    out.cursor = plainBytes(request.cursor);
  } else if (request.cursor != null && request.cursor.length === 0) {
    out.cursor = new Uint8Array(0);
  }
  if (request.budget != null) {
    if (!Number.isSafeInteger(request.budget) || request.budget < 0) {
      throw new WireError('bad_request', `budget ${request.budget} is not a whole number of bytes`);
    }
    out.budget = request.budget;
  }
  if (request.docs && request.docs.length > 0) {
    out.docs = request.docs.map((doc) => {
      /** @type {Record<string, unknown>} */
      const upload = { id: doc.id, heads: doc.heads.map(headBytes) };
      if (doc.changes && doc.changes.length > 0) upload.changes = plainBytes(doc.changes);
      return upload;
    });
  }
  return encoder.encode(out);
}

/**
 * Encodes a sync response (for test servers and tools).
 * @param {Partial<SyncResponse> & {cursor: Uint8Array}} response
 * @returns {Uint8Array}
 */
export function encodeResponse(response) {
  /** @type {Record<string, unknown>} */
  const out = { v: response.v ?? BATCH_VERSION, cursor: plainBytes(response.cursor), more: !!response.more };
  if (response.docs && response.docs.length > 0) {
    out.docs = response.docs.map((doc) => {
      /** @type {Record<string, unknown>} */
      const result = { id: doc.id };
      if (doc.heads && doc.heads.length > 0) result.heads = doc.heads.map(headBytes);
      if (doc.data && doc.data.length > 0) result.data = plainBytes(doc.data);
      if (doc.error) result.error = { code: doc.error.code, message: doc.error.message };
      if (doc.resend) result.resend = true;
      return result;
    });
  }
  if (response.purge && response.purge.length > 0) out.purge = [...response.purge];
  if (response.reset) out.reset = true;
  if (response.remaining != null) out.remaining = response.remaining;
  return encoder.encode(out);
}

/**
 * Decodes a sync response. Throws `WireError` ('bad_response' or
 * 'unsupported_version') for anything that is not one.
 * @param {Uint8Array} body
 * @returns {SyncResponse}
 */
export function decodeResponse(body) {
  const root = decodeMap(body, 'bad_response', 'sync response');
  const bad = (/** @type {string} */ what) => new WireError('bad_response', `the sync response ${what}`);
  checkVersion(root, 'bad_response');
  const cursor = bytesField(root.get('cursor'), 'cursor', bad);
  if (cursor === undefined) throw bad('has no cursor');
  if (cursor.length > MAX_CURSOR_BYTES) throw bad(`has a cursor of ${cursor.length} bytes (at most ${MAX_CURSOR_BYTES})`);
  const more = boolField(root.get('more'), 'more', bad);
  const reset = boolField(root.get('reset'), 'reset', bad);
  const docs = listField(root.get('docs'), 'docs', bad).map((item, i) => decodeDocResult(item, i, bad));
  const purge = listField(root.get('purge'), 'purge', bad).map((id, i) => idField(id, `purge[${i}]`, bad));
  const remainingRaw = root.get('remaining');
  let remaining = null;
  if (remainingRaw != null) {
    if (!isUint(remainingRaw)) throw bad('has a "remaining" that is not a whole number');
    remaining = Number(remainingRaw);
  }
  return { v: BATCH_VERSION, cursor, more, docs, purge, reset, remaining };
}

/**
 * Decodes a sync request (for test servers and tools).
 * @param {Uint8Array} body
 * @returns {{v: number, cursor: Uint8Array | null, budget: number | null, docs: {id: string, heads: string[], changes: Uint8Array}[]}}
 */
export function decodeRequest(body) {
  const root = decodeMap(body, 'bad_request', 'sync request');
  const bad = (/** @type {string} */ what) => new WireError('bad_request', `the sync request ${what}`);
  checkVersion(root, 'bad_request');
  const cursor = bytesField(root.get('cursor'), 'cursor', bad) ?? null;
  const budgetRaw = root.get('budget');
  if (budgetRaw != null && !isUint(budgetRaw)) throw bad('has a budget that is not a whole number');
  const docs = listField(root.get('docs'), 'docs', bad).map((item, i) => {
    if (!(item instanceof Map)) throw bad(`docs[${i}] is not a map`);
    return {
      id: idField(item.get('id'), `docs[${i}].id`, bad),
      heads: listField(item.get('heads'), `docs[${i}].heads`, bad).map((h, j) => headField(h, `docs[${i}].heads[${j}]`, bad)),
      changes: bytesField(item.get('changes'), `docs[${i}].changes`, bad) ?? new Uint8Array(0),
    };
  });
  return { v: BATCH_VERSION, cursor, budget: budgetRaw == null ? null : Number(budgetRaw), docs };
}

/**
 * The error body of a failed HTTP exchange: CBOR (or JSON) `{code,
 * message}`; anything else becomes `{code: 'unknown', message: 'HTTP …'}`.
 * @param {Uint8Array} body
 * @param {number} status
 * @returns {ErrorBody}
 */
export function decodeErrorBody(body, status) {
  try {
    const value = decoder.decode(body);
    if (value instanceof Map && typeof value.get('code') === 'string') {
      const message = value.get('message');
      return { code: value.get('code'), message: typeof message === 'string' ? message : '' };
    }
  } catch {
    // not CBOR; try JSON below
  }
  try {
    const value = JSON.parse(new TextDecoder().decode(body));
    if (value && typeof value.code === 'string') {
      return { code: value.code, message: typeof value.message === 'string' ? value.message : '' };
    }
  } catch {
    // neither
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(body.subarray(0, 400)).slice(0, 200);
  return { code: 'unknown', message: `HTTP ${status}${text ? `: ${text}` : ''}` };
}

/**
 * Gzips `bytes` with the platform's CompressionStream.
 * @param {Uint8Array} bytes
 * @returns {Promise<Uint8Array>}
 */
export async function gzip(bytes) {
  const stream = new Blob([/** @type {BlobPart} */ (bytes)]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Gunzips `bytes` with the platform's DecompressionStream.
 * @param {Uint8Array} bytes
 * @returns {Promise<Uint8Array>}
 */
export async function gunzip(bytes) {
  const stream = new Blob([/** @type {BlobPart} */ (bytes)]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * The body to send for `plain` and its Content-Encoding: gzip above
 * `COMPRESS_ABOVE` bytes when the platform can, else as is.
 * @param {Uint8Array} plain
 * @returns {Promise<{body: Uint8Array, encoding: string | null}>}
 */
export async function compressBody(plain) {
  if (plain.length <= COMPRESS_ABOVE || typeof CompressionStream === 'undefined') {
    return { body: plain, encoding: null };
  }
  const zipped = await gzip(plain);
  return zipped.length < plain.length ? { body: zipped, encoding: 'gzip' } : { body: plain, encoding: null };
}

// --- helpers ---

/**
 * @param {Uint8Array} body
 * @param {'bad_response' | 'bad_request'} code
 * @param {string} what
 * @returns {Map<unknown, unknown>}
 */
function decodeMap(body, code, what) {
  if (!(body instanceof Uint8Array)) throw new WireError(code, `the ${what} is not bytes`);
  if (body.length > MAX_RESPONSE_BYTES) throw new WireError(code, `the ${what} has ${body.length} bytes, more than allowed`);
  if (body.length === 0) throw new WireError(code, `the ${what} is empty`);
  let value;
  try {
    value = decoder.decode(body);
  } catch (e) {
    throw new WireError(code, `the ${what} is not CBOR: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!(value instanceof Map)) throw new WireError(code, `the ${what} is not a CBOR map`);
  return value;
}

/**
 * @param {Map<unknown, unknown>} root
 * @param {'bad_response' | 'bad_request'} code
 */
function checkVersion(root, code) {
  const v = root.get('v');
  if (v === undefined) throw new WireError(code, 'the envelope has no version "v"');
  if (!isUint(v)) throw new WireError(code, 'the envelope version "v" is not a whole number');
  if (Number(v) !== BATCH_VERSION) {
    throw new WireError('unsupported_version', `envelope version ${v} is not spoken here (only ${BATCH_VERSION}); update the app`);
  }
}

/**
 * @param {unknown} item
 * @param {number} i
 * @param {(what: string) => WireError} bad
 * @returns {DocResult}
 */
function decodeDocResult(item, i, bad) {
  if (!(item instanceof Map)) throw bad(`has docs[${i}] that is not a map`);
  const where = `docs[${i}]`;
  const id = idField(item.get('id'), `${where}.id`, bad);
  const heads = listField(item.get('heads'), `${where}.heads`, bad).map((h, j) => headField(h, `${where}.heads[${j}]`, bad));
  const data = bytesField(item.get('data'), `${where}.data`, bad) ?? new Uint8Array(0);
  const errorRaw = item.get('error');
  /** @type {ErrorBody | null} */
  let error = null;
  if (errorRaw != null) {
    if (!(errorRaw instanceof Map)) throw bad(`has ${where}.error that is not a map`);
    const code = errorRaw.get('code');
    const message = errorRaw.get('message');
    if (typeof code !== 'string') throw bad(`has ${where}.error without a text code`);
    if (typeof message !== 'string') throw bad(`has ${where}.error without a text message`);
    error = { code, message };
  }
  const resend = boolField(item.get('resend'), `${where}.resend`, bad);
  return { id, heads, data, error, resend };
}

/** @param {unknown} v */
function isUint(v) {
  return (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) || (typeof v === 'bigint' && v >= 0n);
}

/**
 * @param {unknown} v
 * @param {string} name
 * @param {(what: string) => WireError} bad
 */
function boolField(v, name, bad) {
  if (v == null) return false;
  if (typeof v !== 'boolean') throw bad(`has "${name}" that is not a boolean`);
  return v;
}

/**
 * @param {unknown} v
 * @param {string} name
 * @param {(what: string) => WireError} bad
 * @returns {unknown[]}
 */
function listField(v, name, bad) {
  if (v == null) return [];
  if (!Array.isArray(v)) throw bad(`has "${name}" that is not a list`);
  return v;
}

/**
 * A copy of the bytes in their own buffer: a view into the response body
 * would keep (and, in IndexedDB, store) the whole body.
 * @param {unknown} v
 * @param {string} name
 * @param {(what: string) => WireError} bad
 * @returns {Uint8Array | undefined}
 */
function bytesField(v, name, bad) {
  if (v == null) return undefined;
  if (!(v instanceof Uint8Array)) throw bad(`has "${name}" that is not a byte string`);
  return new Uint8Array(v);
}

/**
 * @param {unknown} v
 * @param {string} name
 * @param {(what: string) => WireError} bad
 */
function idField(v, name, bad) {
  if (typeof v !== 'string') throw bad(`has "${name}" that is not text`);
  if (!isDocumentId(v)) throw bad(`has "${name}" that is not a base58check document id`);
  return v;
}

/**
 * @param {unknown} v
 * @param {string} name
 * @param {(what: string) => WireError} bad
 */
function headField(v, name, bad) {
  if (!(v instanceof Uint8Array) || v.length !== 32) throw bad(`has "${name}" that is not a 32-byte change hash`);
  return toHex(v);
}

/** @param {string} hex */
function headBytes(hex) {
  const bytes = fromHex(hex);
  if (bytes.length !== 32) throw new WireError('bad_request', `a change hash has 32 bytes, got ${bytes.length}`);
  return bytes;
}

/**
 * A plain Uint8Array (a Node Buffer would encode the same, but a view of
 * another type might not).
 * @param {Uint8Array} b
 */
function plainBytes(b) {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
