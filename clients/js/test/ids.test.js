import { test } from 'node:test';
import assert from 'node:assert/strict';

import { IdError, actorFor, fromHex, isDocumentId, newDocumentId, parseDocumentId, toHex } from '../src/ids.js';

test('new document ids are base58check of 16 random bytes (a UUID v4), as automerge-repo makes them', () => {
  const seen = new Set();
  for (let i = 0; i < 200; i++) {
    const id = newDocumentId();
    assert.match(id, /^[1-9A-HJ-NP-Za-km-z]+$/);
    const bytes = parseDocumentId(id);
    assert.equal(bytes.length, 16);
    assert.equal(bytes[6] >> 4, 4, 'version 4');
    assert.equal(bytes[8] >> 6, 2, 'RFC 4122 variant');
    seen.add(id);
  }
  assert.equal(seen.size, 200);
});

test('known ids parse; damaged ones are refused with bad_document_id', () => {
  assert.deepEqual(parseDocumentId('11111111111111114Ki9Gx'), new Uint8Array(16));
  for (const bad of ['', '11111111111111114Ki9Gy', '0OIl', 'automerge:abc', '1111', 42]) {
    assert.throws(() => parseDocumentId(/** @type {any} */ (bad)), (e) => e instanceof IdError && e.code === 'bad_document_id', String(bad));
    assert.equal(isDocumentId(bad), false);
  }
  assert.equal(isDocumentId(newDocumentId()), true);
});

test('the actor is the device id and 4 random bytes, in lowercase hex', () => {
  const device = '0B8F2A52-5C8E-4A57-9E43-3B1C9F7E0A11';
  const a = actorFor(device);
  const b = actorFor(device);
  assert.match(a, /^0b8f2a525c8e4a579e433b1c9f7e0a11[0-9a-f]{8}$/);
  assert.notEqual(a, b, 'each install its own tail');
  assert.throws(() => actorFor('not-a-uuid'), (e) => e.code === 'bad_device_id');
  assert.equal(toHex(fromHex('00ff10')), '00ff10');
  assert.throws(() => fromHex('0g'));
});
