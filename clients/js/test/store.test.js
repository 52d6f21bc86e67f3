// Both stores implement the Store interface alike; IndexedDB runs under
// fake-indexeddb here. A commit is all or nothing, in one transaction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IDBFactory } from 'fake-indexeddb';

import { MemoryStore, emptyState } from '../src/store/memory.js';
import { DB_NAME, openIdbStore } from '../src/store/idb.js';

const kinds = {
  memory: async () => new MemoryStore(),
  indexeddb: async () => openIdbStore({ indexedDB: new IDBFactory() }),
};

for (const [kind, make] of Object.entries(kinds)) {
  test(`${kind}: records, states, dirty ids and meta`, async () => {
    const store = await make();
    assert.equal(await store.getMeta('cursor'), undefined);
    assert.equal(await store.getRecord('x'), undefined);
    const stateA = { ...emptyState('a'), dirty: true, summary: { title: '甲' } };
    await store.commit({
      records: [{ id: 'a', bytes: new Uint8Array([1, 2, 3]), state: stateA }],
      states: [{ ...emptyState('b'), serverHeads: ['ab'], summary: { title: '乙' } }],
      meta: { cursor: new Uint8Array([9]), lastSync: 42, identity: { person: 'li-mei' } },
    });
    assert.deepEqual(await store.getRecord('a'), { id: 'a', bytes: new Uint8Array([1, 2, 3]), state: stateA });
    assert.equal(await store.getRecord('b'), undefined, 'a state alone is no record');
    assert.deepEqual([...(await store.getStates()).keys()].sort(), ['a', 'b']);
    assert.deepEqual(await store.dirtyIds(), ['a']);
    assert.deepEqual(await store.ids(), ['a']);
    assert.deepEqual(await store.getMeta('cursor'), new Uint8Array([9]));
    assert.deepEqual(await store.getMeta('identity'), { person: 'li-mei' });
    const many = await store.getRecords(['a', 'zz']);
    assert.deepEqual([...many.keys()], ['a']);

    await store.commit({ deletes: ['a'], meta: { cursor: undefined } });
    assert.equal(await store.getRecord('a'), undefined);
    assert.equal((await store.getStates()).has('a'), false);
    assert.equal(await store.getMeta('cursor'), undefined, 'undefined deletes a meta key');
    assert.equal(await store.getMeta('lastSync'), 42);

    await store.erase();
    assert.equal((await store.getStates()).size, 0);
    assert.equal(await store.getMeta('lastSync'), undefined);
  });

  test(`${kind}: a commit that fails writes nothing`, async () => {
    const store = await make();
    await store.commit({ meta: { cursor: new Uint8Array([1]) } });
    await assert.rejects(
      store.commit({
        records: [{ id: 'ok', bytes: new Uint8Array([1]) }, { id: 'bad', bytes: /** @type {any} */ ('not bytes') }],
        meta: { cursor: new Uint8Array([2]) },
      }),
    );
    assert.equal(await store.getRecord('ok'), undefined);
    assert.deepEqual(await store.getMeta('cursor'), new Uint8Array([1]));
  });

  test(`${kind}: stored bytes are copies, not views of a larger buffer`, async () => {
    const store = await make();
    const big = new Uint8Array(10_000);
    const view = big.subarray(100, 110);
    view.fill(5);
    await store.commit({ records: [{ id: 'v', bytes: view, state: emptyState('v') }] });
    big.fill(0);
    const back = await store.getRecord('v');
    assert.deepEqual(back.bytes, new Uint8Array(10).fill(5));
    assert.equal(back.bytes.buffer.byteLength, 10);
  });
}

test('indexeddb: one database with three object stores; reopening keeps everything; erase deletes the database', async () => {
  const factory = new IDBFactory();
  const store = await openIdbStore({ indexedDB: factory });
  assert.deepEqual([...store.db.objectStoreNames].sort(), ['docs', 'meta', 'states']);
  assert.equal(store.db.name, DB_NAME);
  await store.commit({ records: [{ id: 'r', bytes: new Uint8Array([1]), state: emptyState('r') }], meta: { token: 'fq_x' } });
  store.close();
  const again = await openIdbStore({ indexedDB: factory });
  assert.deepEqual((await again.getRecord('r')).bytes, new Uint8Array([1]));
  assert.equal(await again.getMeta('token'), 'fq_x');
  await again.erase();
  const dbs = await factory.databases();
  assert.deepEqual(dbs.map((d) => d.name), []);
  // Usable again after erasing (a new set-up).
  await again.commit({ meta: { token: 'fq_y' } });
  assert.equal(await again.getMeta('token'), 'fq_y');
});

test('indexeddb: upgrading to a later version, or over a half-made database, keeps the data', async () => {
  const factory = new IDBFactory();
  // A half-made database: only `meta`, holding a token.
  await new Promise((resolve, reject) => {
    const r = factory.open(DB_NAME, 1);
    r.onupgradeneeded = () => r.result.createObjectStore('meta');
    r.onsuccess = () => {
      const tx = r.result.transaction('meta', 'readwrite');
      tx.objectStore('meta').put('fq_kept', 'token');
      tx.oncomplete = () => {
        r.result.close();
        resolve(undefined);
      };
    };
    r.onerror = () => reject(r.error);
  });
  const v2 = await openIdbStore({ indexedDB: factory, version: 2 });
  assert.equal(await v2.getMeta('token'), 'fq_kept');
  await v2.commit({ records: [{ id: 'r', bytes: new Uint8Array([4]), state: emptyState('r') }] });
  v2.close();
  const v3 = await openIdbStore({ indexedDB: factory, version: 3 });
  assert.equal(await v3.getMeta('token'), 'fq_kept');
  assert.deepEqual((await v3.getRecord('r')).bytes, new Uint8Array([4]));
  v3.close();
});

test('indexeddb: a commit resolves only when its transaction completes', async () => {
  const store = await openIdbStore({ indexedDB: new IDBFactory() });
  const order = [];
  const origin = store.db.transaction.bind(store.db);
  store.db.transaction = (...args) => {
    const tx = origin(...args);
    tx.addEventListener('complete', () => order.push('complete'));
    return tx;
  };
  await store.commit({ meta: { a: 1 } });
  order.push('resolved');
  assert.deepEqual(order, ['complete', 'resolved']);
});
