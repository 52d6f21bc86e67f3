// A hostile or broken server (or a man in the middle) answering the phone:
// nothing it sends may crash the client, hang it, lose unsent records or
// write half a response.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { init } from '../src/automerge.js';
import { FieldClient, SetupError, defaultRecords } from '../src/client.js';
import { MemoryStore } from '../src/store/memory.js';
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

/**
 * A fetch that answers /v1/me and hands sync requests to `sync` (which
 * returns a Response, or a promise that may never settle). Like some
 * shells' fetch, it ignores the abort signal.
 * @param {(request: any, n: number) => any} sync
 * @param {{me?: () => any}} [o]
 */
function deafFetch(sync, o = {}) {
  let n = 0;
  return async (/** @type {string} */ url, /** @type {any} */ options = {}) => {
    const path = new URL(url).pathname;
    if (path === '/v1/me') return o.me ? o.me() : Response.json(ME);
    if (path !== '/v1/sync') return new Response('{}', { status: 404 });
    let body = new Uint8Array(options.body);
    if (options.headers['Content-Encoding'] === 'gzip') body = await gunzip(body);
    return sync(decodeRequest(body), n++);
  };
}

/** @param {any} fetch @param {any} [extra] */
async function phone(fetch, extra = {}) {
  return FieldClient.open({
    store: new MemoryStore(),
    records,
    baseUrl: 'http://x.test',
    fetch,
    autoSync: false,
    listenNetwork: false,
    online: true,
    broadcast: false,
    ...extra,
  });
}

/** A response body that starts and never ends. */
const trickle = () => new Response(new ReadableStream({ start: (c) => c.enqueue(new Uint8Array([0xa3])) }), { status: 200 });

/** @param {Promise<unknown>} p @param {number} ms */
function within(p, ms) {
  return Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error(`still waiting after ${ms} ms: the client hangs`)), ms))]);
}

test('a server that never answers, or never finishes its body, times out even when fetch ignores the signal', async () => {
  for (const answer of [() => new Promise(() => {}), trickle]) {
    const client = await phone(deafFetch(answer), { requestTimeoutMs: 60 });
    await client.setup(SETUP);
    const id = await client.createDispute(DISPUTE);
    await assert.rejects(within(client.syncNow(), 3000), (e) => /** @type {any} */ (e).code === 'timeout');
    assert.equal(client.status.syncing, false);
    assert.equal(client.status.error?.code, 'timeout');
    // The unsent record is still there, still unsent.
    assert.equal((await client.get(id))?.sync, 'unsent');
    client.close();
  }
});

test('set-up gives up on a /v1/me whose body never ends', async () => {
  const client = await phone(deafFetch(() => new Response(encodeResponse({ cursor: new Uint8Array([1]) })), { me: trickle }), { requestTimeoutMs: 60 });
  await assert.rejects(within(client.setup(SETUP), 3000), (e) => e instanceof SetupError && e.code === 'offline');
  assert.equal(client.identity, null);
  client.close();
});

test('a server that asks for everything again at every answer does not keep the phone uploading for ever', async () => {
  let calls = 0;
  const client = await phone(deafFetch(() => {
    calls++;
    return new Response(encodeResponse({ cursor: new Uint8Array([calls]), reset: true }));
  }));
  await client.setup(SETUP);
  const id = await client.createDispute(DISPUTE);
  await assert.rejects(within(client.syncNow(), 5000), (e) => /** @type {any} */ (e).code === 'too_many_rounds');
  assert.ok(calls <= 5, `${calls} requests`);
  assert.equal(client.status.syncing, false);
  assert.equal((await client.get(id))?.sync, 'unsent');
  client.close();
});

test('"more" for ever from the same cursor with nothing in it stops after a few answers', async () => {
  let calls = 0;
  const client = await phone(deafFetch(() => {
    calls++;
    return new Response(encodeResponse({ cursor: new Uint8Array([7]), more: true, remaining: 5 }));
  }));
  await client.setup(SETUP);
  await assert.rejects(within(client.syncNow(), 5000), (e) => /** @type {any} */ (e).code === 'too_many_rounds');
  assert.ok(calls <= 5, `${calls} requests`);
  assert.equal(client.status.progress, null);
  client.close();
});

test('a bootstrap that moves on (new cursor, records) is not taken for a loop', async () => {
  const { A } = await import('../src/automerge.js');
  const { newDocumentId } = await import('../src/ids.js');
  const docs = Array.from({ length: 12 }, (_, i) => {
    const doc = records.createDispute(null, { cadre: 'zhang', at: 1_790_000_000_000 + i }, { ...DISPUTE, village: VILLAGE, title: `案${i}` });
    return { id: newDocumentId(), heads: A.getHeads(doc), data: A.save(doc) };
  });
  const client = await phone(deafFetch((_request, n) =>
    new Response(encodeResponse({ cursor: new Uint8Array([n + 1]), more: n < 11, remaining: 11 - n, docs: [docs[n]], reset: n === 0 })),
  ));
  await client.setup(SETUP);
  const report = await within(client.syncNow(), 5000);
  assert.equal(/** @type {any} */ (report).received, 12);
  assert.equal((await client.list()).length, 12);
  client.close();
});
