// The batch envelope: exact bytes of a request, decoding of responses with
// unknown and optional keys, and hostile input that must end in a typed
// error, never another exception.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Encoder } from 'cbor-x';

import {
  COMPRESS_ABOVE,
  WireError,
  compressBody,
  decodeErrorBody,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  gunzip,
  gzip,
} from '../src/wire.js';

const ID = '11111111111111114Ki9Gx'; // base58check of 16 zero bytes
const HEAD = 'ab'.repeat(32);
const hex = (/** @type {Uint8Array} */ b) => Buffer.from(b).toString('hex');
const raw = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false, variableMapSize: true });

test('a request encodes to the bytes the Rust envelope has: keys in field order, uints, byte strings', () => {
  const body = encodeRequest({
    cursor: new Uint8Array([1, 2]),
    budget: 524288,
    docs: [{ id: ID, heads: [HEAD], changes: new Uint8Array([9]) }],
  });
  const expected =
    'a4' + // map(4)
    '6176' + '01' + // "v": 1
    '66637572736f72' + '420102' + // "cursor": h'0102'
    '66627564676574' + '1a00080000' + // "budget": 524288 (uint32)
    '64646f6373' + '81' + // "docs": [
    'a3' + '626964' + '76' + Buffer.from(ID).toString('hex') + // {"id": tstr(22)
    '656865616473' + '81' + '5820' + HEAD + // "heads": [bstr(32)]
    '676368616e676573' + '4109'; // "changes": h'09'}]
  assert.equal(hex(body), expected);
});

test('empty parts are left out, as the Rust side skips them', () => {
  assert.equal(hex(encodeRequest({})), 'a1617601');
  assert.equal(hex(encodeRequest({ docs: [{ id: ID, heads: [], changes: new Uint8Array(0) }] })), 'a2617601' + '64646f6373' + '81' + 'a2' + '626964' + '76' + Buffer.from(ID).toString('hex') + '656865616473' + '80');
  assert.throws(() => encodeRequest({ budget: 1.5 }), WireError);
  assert.throws(() => encodeRequest({ docs: [{ id: ID, heads: ['abcd'] }] }), WireError);
});

test('requests and responses round-trip', () => {
  const request = { cursor: new Uint8Array([5]), budget: 1000, docs: [{ id: ID, heads: [HEAD], changes: new Uint8Array([1, 2, 3]) }] };
  const back = decodeRequest(encodeRequest(request));
  assert.deepEqual(back, { v: 1, cursor: new Uint8Array([5]), budget: 1000, docs: [{ id: ID, heads: [HEAD], changes: new Uint8Array([1, 2, 3]) }] });
  const response = {
    cursor: new Uint8Array([1, 2, 3]),
    more: true,
    docs: [
      { id: ID, heads: [HEAD], data: new Uint8Array([7]), error: null, resend: false },
      { id: ID, heads: [], data: new Uint8Array(0), error: { code: 'invalid_record', message: '标题太长' }, resend: true },
    ],
    purge: [ID],
    reset: true,
    remaining: 312,
  };
  assert.deepEqual(decodeResponse(encodeResponse(response)), { v: 1, ...response });
});

test('a response: unknown keys ignored, optional fields absent or null, remaining optional', () => {
  const body = raw.encode({ v: 1, cursor: new Uint8Array([9]), more: false, future: { x: [1, 2] }, docs: [{ id: ID, extra: 'x', heads: null }], purge: null, __proto__x: 1 });
  const r = decodeResponse(body);
  assert.deepEqual(r, { v: 1, cursor: new Uint8Array([9]), more: false, docs: [{ id: ID, heads: [], data: new Uint8Array(0), error: null, resend: false }], purge: [], reset: false, remaining: null });
  // `more` may be left out (serde default).
  assert.equal(decodeResponse(raw.encode({ v: 1, cursor: new Uint8Array(0) })).more, false);
});

test('decoded bytes own their buffer (a view would keep the whole body alive and in IndexedDB)', () => {
  const body = encodeResponse({ cursor: new Uint8Array([1]), docs: [{ id: ID, heads: [HEAD], data: new Uint8Array(100).fill(3) }] });
  const r = decodeResponse(body);
  assert.equal(r.docs[0].data.buffer.byteLength, 100);
  assert.equal(r.cursor.buffer.byteLength, 1);
});

test('malformed responses are WireError bad_response', () => {
  const cases = {
    'not CBOR': new Uint8Array([0xff, 0x00]),
    empty: new Uint8Array(0),
    'not a map': raw.encode([1, 2]),
    'no version': raw.encode({ cursor: new Uint8Array(1) }),
    'version as text': raw.encode({ v: '1', cursor: new Uint8Array(1) }),
    'no cursor': raw.encode({ v: 1, more: false }),
    'cursor as text': raw.encode({ v: 1, cursor: 'abc' }),
    'cursor too long': raw.encode({ v: 1, cursor: new Uint8Array(257) }),
    'more as number': raw.encode({ v: 1, cursor: new Uint8Array(1), more: 1 }),
    'docs not a list': raw.encode({ v: 1, cursor: new Uint8Array(1), docs: {} }),
    'doc not a map': raw.encode({ v: 1, cursor: new Uint8Array(1), docs: [5] }),
    'id missing': raw.encode({ v: 1, cursor: new Uint8Array(1), docs: [{}] }),
    'id bad checksum': raw.encode({ v: 1, cursor: new Uint8Array(1), docs: [{ id: '11111111111111114Ki9Gy' }] }),
    'id as bytes': raw.encode({ v: 1, cursor: new Uint8Array(1), docs: [{ id: new Uint8Array(16) }] }),
    'head of 31 bytes': raw.encode({ v: 1, cursor: new Uint8Array(1), docs: [{ id: ID, heads: [new Uint8Array(31)] }] }),
    'head as hex text': raw.encode({ v: 1, cursor: new Uint8Array(1), docs: [{ id: ID, heads: [HEAD] }] }),
    'data as text': raw.encode({ v: 1, cursor: new Uint8Array(1), docs: [{ id: ID, data: 'x' }] }),
    'error without code': raw.encode({ v: 1, cursor: new Uint8Array(1), docs: [{ id: ID, error: { message: 'x' } }] }),
    'error as text': raw.encode({ v: 1, cursor: new Uint8Array(1), docs: [{ id: ID, error: 'x' }] }),
    'purge of numbers': raw.encode({ v: 1, cursor: new Uint8Array(1), purge: [1] }),
    'remaining negative': raw.encode({ v: 1, cursor: new Uint8Array(1), remaining: -1 }),
    'remaining as text': raw.encode({ v: 1, cursor: new Uint8Array(1), remaining: '5' }),
    'trailing bytes': new Uint8Array([...raw.encode({ v: 1, cursor: new Uint8Array(1) }), 0]),
    'deep nesting': new Uint8Array([...Array(100000).fill(0x81), 0]),
  };
  for (const [name, body] of Object.entries(cases)) {
    assert.throws(() => decodeResponse(body), (e) => e instanceof WireError && e.code === 'bad_response', name);
  }
  assert.throws(() => decodeResponse(raw.encode({ v: 2, cursor: new Uint8Array(1) })), (e) => e instanceof WireError && e.code === 'unsupported_version');
});

test('random and truncated input never throws anything but WireError', () => {
  const good = encodeResponse({ cursor: new Uint8Array([1, 2]), more: true, docs: [{ id: ID, heads: [HEAD], data: new Uint8Array([1, 2, 3]), error: { code: 'forbidden', message: 'x' } }], purge: [ID], remaining: 3 });
  for (let n = 0; n < good.length; n++) {
    assert.throws(() => decodeResponse(good.subarray(0, n)), WireError, `cut at ${n}`);
  }
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 3000; i++) {
    const body = good.slice();
    for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) body[Math.floor(rand() * body.length)] = Math.floor(rand() * 256);
    try {
      decodeResponse(body);
    } catch (e) {
      assert.ok(e instanceof WireError, `mutation ${i}: ${e}`);
    }
    const noise = new Uint8Array(1 + Math.floor(rand() * 64)).map(() => Math.floor(rand() * 256));
    try {
      decodeResponse(noise);
    } catch (e) {
      assert.ok(e instanceof WireError, `noise ${i}: ${e}`);
    }
  }
});

test('error bodies: CBOR {code, message}, JSON, or anything else', () => {
  assert.deepEqual(decodeErrorBody(raw.encode({ code: 'rate_limited', message: 'slow down' }), 429), { code: 'rate_limited', message: 'slow down' });
  assert.deepEqual(decodeErrorBody(new TextEncoder().encode('{"code":"unauthorized","message":"no"}'), 401), { code: 'unauthorized', message: 'no' });
  assert.deepEqual(decodeErrorBody(new TextEncoder().encode('Bad Gateway'), 502), { code: 'unknown', message: 'HTTP 502: Bad Gateway' });
  assert.deepEqual(decodeErrorBody(new Uint8Array(0), 503), { code: 'unknown', message: 'HTTP 503' });
});

test('gzip above about 1 KiB, and only when it helps', async () => {
  const small = new Uint8Array(COMPRESS_ABOVE).fill(1);
  assert.deepEqual(await compressBody(small), { body: small, encoding: null });
  const big = new Uint8Array(8 * 1024).fill(7);
  const { body, encoding } = await compressBody(big);
  assert.equal(encoding, 'gzip');
  assert.ok(body.length < 200);
  assert.deepEqual(await gunzip(body), big);
  const random = crypto.getRandomValues(new Uint8Array(4096));
  assert.equal((await compressBody(random)).encoding, null, 'incompressible bytes go as they are');
  assert.deepEqual(await gunzip(await gzip(random)), random);
});
