// Two tabs of the app on one phone share one store (and one Automerge
// actor): an edit or a sync in one tab must never overwrite what the other
// tab saved between its read and its write.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { IDBFactory } from 'fake-indexeddb';

import { A, init } from '../src/automerge.js';
import { FieldClient, defaultRecords } from '../src/client.js';
import { MemoryStore } from '../src/store/memory.js';
import { openIdbStore } from '../src/store/idb.js';
import { decodeRequest, encodeResponse, gunzip } from '../src/wire.js';

const DEVICE = '3f1c2a52-5c8e-4a57-9e43-3b1c9f7e0a11';
const VILLAGE = '500110101001';
const ME = { device: DEVICE, person: 'li-mei', personName: '李梅', label: '', role: 'cadre', scope: VILLAGE, write: true };
const SETUP = JSON.stringify({ server: 'http://x.test', token: 'fq_t', device: DEVICE });
const DISPUTE = { title: '宅基地纠纷', description: '', category: 'land', risk: 'low', parties: [{ name: '张三', role: 'applicant' }] };

/** @type {any} */
let records;
before(async () => {
  await init();
  records = await defaultRecords();
});

/** @param {(request: any) => any} answer */
function fetcher(answer) {
  return async (/** @type {string} */ url, /** @type {any} */ options = {}) => {
    const path = new URL(url).pathname;
    if (path === '/v1/me') return Response.json(ME);
    if (path !== '/v1/sync') return new Response('{}', { status: 404 });
    let body = new Uint8Array(options.body);
    if (options.headers['Content-Encoding'] === 'gzip') body = await gunzip(body);
    return new Response(encodeResponse(await answer(decodeRequest(body))), { status: 200 });
  };
}

/** @param {any} store @param {(request: any) => any} [answer] */
async function tab(store, answer = () => ({ cursor: new Uint8Array([1]) })) {
  return FieldClient.open({ store, records, baseUrl: 'http://x.test', fetch: fetcher(answer), autoSync: false, listenNetwork: false, online: true, broadcast: false });
}

/** @param {FieldClient} client @param {string} id */
async function notes(client, id) {
  const got = await client.get(id);
  return got.record.events.map((/** @type {any} */ e) => e.note).filter(Boolean).sort();
}

for (const [name, makeStore] of /** @type {[string, () => Promise<any>][]} */ ([
  ['memory', async () => new MemoryStore()],
  ['IndexedDB', async () => openIdbStore({ indexedDB: new IDBFactory(), name: 'tabs' })],
])) {
  test(`two tabs editing one record at once both keep their edit (${name})`, async () => {
    const store = await makeStore();
    const a = await tab(store);
    await a.setup(SETUP);
    const b = await tab(store);
    const id = await a.createDispute(DISPUTE);
    await Promise.all([
      a.addEvent(id, { kind: 'note', note: 'A' }),
      b.addEvent(id, { kind: 'note', note: 'B' }),
      a.addEvent(id, { kind: 'note', note: 'A2' }),
      b.addEvent(id, { kind: 'note', note: 'B2' }),
    ]);
    assert.deepEqual(await notes(a, id), ['A', 'A2', 'B', 'B2']);
    // One actor, one line of changes: nothing forked.
    const doc = A.load((await store.getRecord(id)).bytes);
    const seqs = A.getAllChanges(doc).map((c) => A.decodeChange(c)).map((c) => `${c.actor}:${c.seq}`);
    assert.equal(new Set(seqs).size, seqs.length);
    assert.equal((await store.getRecord(id)).state.dirty, true);
  });

  test(`a response applied in one tab does not undo an edit saved meanwhile in another (${name})`, async () => {
    const base = await makeStore();
    /** @type {FieldClient | null} */
    let other = null;
    let id = '';
    let interfere = false;
    // Tab A's store: while A reads the records of a response, tab B saves an edit.
    const store = Object.create(base);
    store.getRecords = async (/** @type {string[]} */ ids) => {
      const out = await base.getRecords(ids);
      if (interfere && ids.includes(id)) {
        interfere = false;
        await /** @type {any} */ (other).addEvent(id, { kind: 'note', note: 'B, saved while A synced' });
      }
      return out;
    };
    const a = await tab(store, (request) => {
      if (request.docs.length === 0) return { cursor: new Uint8Array([1]) };
      // The server confirms A's upload and sends another phone's change.
      const upload = request.docs[0];
      const theirs = A.change(A.load(upload.changes, { actor: 'ab'.repeat(16) }), (d) => {
        d.title = '服务器上的标题';
      });
      interfere = true;
      return { cursor: new Uint8Array([2]), docs: [{ id: upload.id, heads: A.getHeads(theirs), data: A.saveSince(theirs, upload.heads) }] };
    });
    await a.setup(SETUP);
    other = await tab(base);
    id = await a.createDispute(DISPUTE);
    await a.syncNow();
    const got = await other.get(id);
    assert.deepEqual(await notes(other, id), ['B, saved while A synced']);
    assert.equal(got.record.title, '服务器上的标题');
    // B's edit is not on the server yet: the record stays unsent.
    assert.equal(got.sync, 'unsent');
  });
}

test('a tab that has not yet heard that another tab erased the phone writes nothing into a new, empty database', async () => {
  const factory = new IDBFactory();
  const storeA = await openIdbStore({ indexedDB: factory, name: 'erase-race' });
  const storeB = await openIdbStore({ indexedDB: factory, name: 'erase-race' });
  const { A: Am } = await import('../src/automerge.js');
  const { newDocumentId } = await import('../src/ids.js');
  const theirs = records.createDispute(null, { cadre: 'zhang', at: 1_790_000_000_000 }, { ...DISPUTE, village: VILLAGE });
  const id = newDocumentId();
  const a = await tab(storeA, () => ({ cursor: new Uint8Array([9, 9]), docs: [{ id, heads: Am.getHeads(theirs), data: Am.save(theirs) }] }));
  await a.setup(SETUP);
  // Tab B signs out and erases; tab A has not heard yet and syncs.
  await storeB.erase();
  await assert.rejects(a.syncNow(), (e) => /** @type {any} */ (e).code === 'storage');
  // Nothing of tab A's landed in a fresh database: no cursor, no record.
  const fresh = await openIdbStore({ indexedDB: factory, name: 'erase-race' });
  assert.equal(await fresh.getMeta('cursor'), undefined);
  assert.equal(await fresh.getRecord(id), undefined);
  assert.deepEqual(await fresh.ids(), []);
  a.close();
});
