// A full phone: IndexedDB aborts the write with QuotaExceededError. The
// cadre must be told the phone is full (not a vague failure), nothing
// half-saved may appear, and saving works again once there is room.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { IDBFactory } from 'fake-indexeddb';

import { init } from '../src/automerge.js';
import { FieldClient, errorText } from '../src/client.js';
import { openIdbStore } from '../src/store/idb.js';
import * as records from './client-fake-records.js';

const DEVICE = '3f1c2a52-5c8e-4a57-9e43-3b1c9f7e0a11';
const ME = { device: DEVICE, person: 'li-mei', personName: '李梅', label: '', role: 'cadre', scope: '500110101001', write: true };
const DISPUTE = { title: '存储已满', description: '', category: 'land', risk: 'low', parties: [{ name: '张三', role: 'applicant' }] };

before(() => init());

test('a write refused for lack of space is storage_full, saves nothing, and saving works again with room', async () => {
  const store = await openIdbStore({ indexedDB: new IDBFactory(), name: 'full' });
  const client = await FieldClient.open({
    store,
    records,
    baseUrl: 'http://x.test',
    fetch: async () => Response.json(ME),
    autoSync: false,
    listenNetwork: false,
    broadcast: false,
  });
  await client.setup(JSON.stringify({ server: 'http://x.test', token: 'fq_t', device: DEVICE }));
  const db = /** @type {IDBDatabase} */ (store.db);
  const real = db.transaction.bind(db);
  let full = true;
  /** @type {any} */ (db).transaction = (/** @type {any} */ names, /** @type {any} */ mode, /** @type {any} */ options) => {
    if (!full || mode !== 'readwrite') return real(names, mode, options);
    // What a browser does when the origin is over its quota: the writes are
    // accepted, then the transaction aborts with QuotaExceededError.
    const tx = /** @type {any} */ ({
      error: new DOMException('The quota has been exceeded.', 'QuotaExceededError'),
      objectStore: () => ({ put() {}, delete() {}, get: () => ({}) }),
      abort() {},
    });
    setTimeout(() => tx.onabort?.(), 0);
    return tx;
  };
  await assert.rejects(client.createDispute(DISPUTE), (e) => /** @type {any} */ (e).code === 'storage_full');
  assert.deepEqual(await client.list(), []);
  assert.match(errorText({ code: 'storage_full', message: '' }), /存储空间已满/);
  full = false;
  const id = await client.createDispute(DISPUTE);
  assert.deepEqual((await client.list()).map((r) => r.id), [id]);
  client.close();
});
