// The sans-IO sync machine, driven step by step against a MemoryStore and
// an in-process fake server: lost requests and responses, duplicates,
// refusals, reset, purge, budgets, `more` with progress, and the scheduler
// (backoff with injected jitter, 401, offline/online, periodic sync).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { A, init } from '../src/automerge.js';
import { actorFor, newDocumentId } from '../src/ids.js';
import { MemoryStore, emptyState } from '../src/store/memory.js';
import { NOT_HELD_HERE, SyncError, SyncMachine, foldNews, isRetryable, sameHeads } from '../src/sync.js';
import { decodeResponse, encodeRequest, encodeResponse } from '../src/wire.js';
import { FakeServer } from './sync-fake-server.js';

const DEVICE = '0b8f2a52-5c8e-4a57-9e43-3b1c9f7e0a11';
let actor = '';

before(async () => {
  await init();
  actor = actorFor(DEVICE);
});

/** A minimal record document (shape checked by summarize below). */
function record(title, at = 1_790_000_000_000, by = actor) {
  return A.change(A.init({ actor: by }), { time: Math.floor(at / 1000) }, (d) => {
    d.type = new A.ImmutableString('dispute');
    d.title = title;
    d.events = [{ kind: new A.ImmutableString('reported'), at: new Date(at) }];
  });
}

const summarize = (/** @type {any} */ doc) => (doc.type ? { kind: String(doc.type), title: String(doc.title), events: doc.events.length } : null);

/** A machine with deterministic jitter. */
function machine(options = {}) {
  return new SyncMachine({ summarize, random: () => 0.5, ...options });
}

/**
 * A local edit as FieldClient saves it: bytes, dirty, summary.
 * @param {MemoryStore} store
 * @param {string} id
 * @param {any} doc
 */
async function saveLocal(store, id, doc) {
  const state = (await store.getState(id)) ?? emptyState(id);
  await store.commit({ records: [{ id, bytes: A.save(doc), state: { ...state, dirty: true, summary: summarize(doc) } }] });
}

/**
 * One exchange driven by hand: what a custom transport does.
 * @param {SyncMachine} m
 * @param {MemoryStore} store
 * @param {FakeServer} server
 * @param {{lose?: 'request' | 'response', now?: number, replay?: Uint8Array}} [opts]
 */
async function round(m, store, server, opts = {}) {
  const now = opts.now ?? 1000;
  const states = await store.getStates();
  const docs = new Map();
  for (const id of m.uploadOrder(states.values())) docs.set(id, (await store.getRecord(id))?.bytes);
  const request = m.buildRequest({ cursor: await store.getMeta('cursor'), states: states.values(), docs });
  m.sent(now);
  if (opts.lose === 'request') return { request, decision: m.failed(new SyncError('network', 'lost'), now) };
  const body = opts.replay ?? server.handle(encodeRequest(request));
  if (opts.lose === 'response') return { request, body, decision: m.failed(new SyncError('timeout', 'lost'), now) };
  const response = decodeResponse(body);
  const need = m.needs(response);
  const current = await store.getStates();
  const held = new Map();
  for (const id of need.ids) {
    const r = await store.getRecord(id);
    if (r) held.set(id, r.bytes);
  }
  const heldIds = need.allHeld ? await store.ids() : undefined;
  const { writes, step } = m.applyResponse({ states: current, docs: held, heldIds, actor }, response, now);
  await store.commit(writes);
  return { request, response, body, step, writes, decision: m.succeeded(step, now) };
}

/** Rounds until the machine stops asking. */
async function syncAll(m, store, server) {
  const steps = [];
  for (let i = 0; i < 100; i++) {
    const r = await round(m, store, server);
    steps.push(r.step);
    if (!r.step.more) return steps;
  }
  throw new Error('did not finish');
}

test('uploads only dirty records without attention, whole when never confirmed, then changes since the server heads', async () => {
  const store = new MemoryStore();
  const server = new FakeServer();
  const m = machine();
  const a = newDocumentId();
  const b = newDocumentId();
  let docA = record('甲');
  await saveLocal(store, a, docA);
  await saveLocal(store, b, record('乙'));
  // Refused earlier, then edited again: dirty, but a person must look first.
  await store.commit({ states: [{ ...(await store.getState(b)), attention: { code: 'forbidden', message: 'no' }, dirty: true }] });

  const first = await round(m, store, server);
  assert.deepEqual(first.request.docs.map((d) => d.id), [a]);
  assert.deepEqual(first.request.docs[0].changes, A.save(docA), 'never confirmed: the whole record');
  assert.deepEqual(first.step.acknowledged, [a]);
  const stateA = await store.getState(a);
  assert.equal(stateA.dirty, false);
  assert.deepEqual(stateA.serverHeads, A.getHeads(docA));
  assert.equal(first.decision.action, 'wait', 'nothing more: wait for the next periodic sync');

  docA = A.change(A.load(A.save(docA), { actor }), (d) => {
    d.title = '甲（改）';
  });
  await saveLocal(store, a, docA);
  const second = await round(m, store, server);
  const upload = second.request.docs[0];
  assert.deepEqual(upload.heads, A.getHeads(docA));
  assert.ok(upload.changes.length < A.save(docA).length, 'only the changes since the confirmed heads');
  assert.deepEqual(upload.changes, A.saveSince(docA, stateA.serverHeads));
  assert.equal((await store.getState(a)).dirty, false);
  assert.equal(String(server.docs.get(a).title), '甲（改）');
});

test('a lost request or a lost response is repeated and changes nothing twice', async () => {
  const store = new MemoryStore();
  const server = new FakeServer();
  const m = machine();
  const id = newDocumentId();
  await saveLocal(store, id, record('丢失'));

  const lostRequest = await round(m, store, server, { lose: 'request' });
  assert.equal(lostRequest.decision.action, 'wait');
  assert.equal((await store.getState(id)).dirty, true, 'still dirty: the upload never arrived');

  const lostResponse = await round(m, store, server, { lose: 'response' });
  assert.equal(server.docs.size, 1, 'the server applied it');
  assert.equal((await store.getState(id)).dirty, true, 'not confirmed: still dirty');
  assert.equal(await store.getMeta('cursor'), undefined, 'no cursor stored without its response');
  assert.ok(lostResponse.body);

  const again = await round(m, store, server);
  assert.deepEqual(again.request.docs.map((d) => d.id), [id], 'sent again');
  assert.deepEqual(again.step.acknowledged, [id]);
  assert.equal(server.docs.size, 1);
  assert.equal(A.getHistory(server.docs.get(id)).length, 1, 'applied once');

  // The lost response arriving late (a duplicate) changes nothing.
  const heads = A.getHeads(server.docs.get(id));
  const late = await round(m, store, server, { replay: lostResponse.body });
  assert.deepEqual(late.step.received, [], 'nothing new in a duplicate');
  assert.deepEqual((await store.getState(id)).serverHeads, heads);
  assert.equal((await store.getState(id)).dirty, false);
  const stored = A.load((await store.getRecord(id)).bytes);
  assert.equal(A.getHistory(stored).length, 1);
});

test('a record stays dirty until the server heads cover the local heads', async () => {
  const store = new MemoryStore();
  const m = machine();
  const id = newDocumentId();
  const doc = record('未确认');
  await saveLocal(store, id, doc);
  const states = await store.getStates();
  // The server confirms only an older head (e.g. an edit raced the request).
  const older = A.getHeads(A.init());
  const response = decodeResponse(encodeResponse({ cursor: new Uint8Array([1]), docs: [{ id, heads: ['aa'.repeat(32)] }] }));
  const { writes, step } = m.applyResponse({ states, docs: new Map([[id, A.save(doc)]]), actor }, response, 5);
  assert.deepEqual(older, []);
  assert.deepEqual(step.acknowledged, []);
  assert.equal(writes.states.find((s) => s.id === id).dirty, true);
  assert.deepEqual(writes.meta, { cursor: new Uint8Array([1]), lastSync: 5 });
});

test('refused uploads need attention and are not sent again; an empty answer too', async () => {
  const store = new MemoryStore();
  const server = new FakeServer();
  const m = machine();
  const refused = newDocumentId();
  const silent = newDocumentId();
  const fine = newDocumentId();
  for (const [id, t] of [[refused, '拒'], [silent, '空'], [fine, '好']]) await saveLocal(store, id, record(t));
  server.refuse.add(refused);
  server.silent.add(silent);
  const r = await round(m, store, server);
  assert.deepEqual(r.step.rejected.map((x) => x.id).sort(), [refused, silent].sort());
  assert.deepEqual((await store.getState(refused)).attention, { code: 'forbidden', message: 'this device may not write this record' });
  assert.deepEqual((await store.getState(silent)).attention, NOT_HELD_HERE);
  for (const id of [refused, silent]) assert.equal((await store.getState(id)).dirty, false);
  const next = await round(m, store, server);
  assert.deepEqual(next.request.docs, [], 'neither is uploaded again by itself');
});

test('a record discarded locally asks for the server copy; one the server does not hold is no longer asked for', async () => {
  const store = new MemoryStore();
  const server = new FakeServer();
  const m = machine();
  const held = newDocumentId();
  const unknown = newDocumentId();
  server.put(held, record('服务器上的'));
  await store.commit({ states: [{ ...emptyState(held), dirty: true }, { ...emptyState(unknown), dirty: true }] });
  const r = await round(m, store, server);
  assert.deepEqual(r.request.docs.map((d) => [d.heads.length, d.changes.length]), [[0, 0], [0, 0]]);
  assert.equal(String(A.load((await store.getRecord(held)).bytes).title), '服务器上的');
  assert.deepEqual(await store.dirtyIds(), []);
  assert.equal(await store.getRecord(unknown), undefined);
  const next = await round(m, store, server);
  assert.deepEqual(next.request.docs, []);
});

test('records changed elsewhere arrive, merge with local changes, and leave news', async () => {
  const store = new MemoryStore();
  const server = new FakeServer();
  const other = actorFor('7d0e6f9a-1111-4222-8333-944455556666');
  const seen = [];
  const m = machine({
    person: 'me',
    describeMerge: (before, after, person) => {
      seen.push(person);
      const had = new Set(before.events.map((e) => String(e.kind)));
      return { eventsAdded: after.events.filter((e) => !had.has(String(e.kind))).map((e) => ({ kind: String(e.kind) })), statusBefore: 'open', statusAfter: 'open', riskBefore: null, riskAfter: null, riskConflict: null, sentimentConflict: null };
    },
  });
  const id = newDocumentId();
  const base = record('共同');
  server.put(id, base);
  await syncAll(m, store, server);
  assert.equal(String(A.load((await store.getRecord(id)).bytes).title), '共同');
  assert.equal((await store.getState(id)).news, null, 'a record arriving new is not news');

  // Both sides add an event.
  const mine = A.change(A.load(A.save(base), { actor }), (d) => {
    d.events.push({ kind: new A.ImmutableString('mediation'), at: new Date(1) });
  });
  await saveLocal(store, id, mine);
  const theirs = A.change(A.clone(server.docs.get(id), { actor: other }), (d) => {
    d.events.push({ kind: new A.ImmutableString('escalated'), at: new Date(2) });
  });
  server.put(id, theirs);
  const r = await round(m, store, server);
  assert.deepEqual(r.step.merged, [id]);
  assert.deepEqual(r.step.acknowledged, [id]);
  const merged = A.load((await store.getRecord(id)).bytes);
  assert.equal(merged.events.length, 3);
  assert.deepEqual(A.getHeads(merged).sort(), A.getHeads(server.docs.get(id)).sort());
  const state = await store.getState(id);
  assert.equal(state.dirty, false);
  assert.equal(state.summary.events, 3);
  assert.deepEqual(seen, ['me']);
  assert.deepEqual(state.news.eventsAdded.map((e) => e.kind), ['escalated']);
});

test('news of two merges fold together until seen', () => {
  const one = { eventsAdded: [{ kind: 'mediation' }], statusBefore: 'open', statusAfter: 'mediating', riskBefore: 'low', riskAfter: 'low', riskConflict: null, sentimentConflict: null };
  const two = { eventsAdded: [{ kind: 'escalated' }], statusBefore: 'mediating', statusAfter: 'escalated', riskBefore: 'low', riskAfter: 'high', riskConflict: ['high', 'low'], sentimentConflict: null };
  const folded = foldNews(one, two);
  assert.deepEqual(folded.eventsAdded, [{ kind: 'mediation' }, { kind: 'escalated' }]);
  assert.equal(folded.statusBefore, 'open');
  assert.equal(folded.statusAfter, 'escalated');
  assert.equal(folded.riskBefore, 'low');
  assert.deepEqual(folded.riskConflict, ['high', 'low']);
  assert.equal(foldNews(null, two), two);
});

test('reset uploads every record again, whole; the server asking to resend does too', async () => {
  const store = new MemoryStore();
  const server = new FakeServer();
  const m = machine();
  const ids = [newDocumentId(), newDocumentId()];
  const docs = ids.map((id, i) => record(`记录${i}`));
  for (let i = 0; i < 2; i++) await saveLocal(store, ids[i], docs[i]);
  await syncAll(m, store, server);
  // The server is restored from a backup that lacks both records.
  const restored = new FakeServer();
  restored.epoch = server.epoch + 1;
  restored.seq = server.seq;
  const r = await round(m, store, restored);
  assert.equal(r.step.reset, true);
  assert.equal(r.step.more, true, 'ask again at once to upload');
  for (const id of ids) {
    const s = await store.getState(id);
    assert.equal(s.dirty, true);
    assert.equal(s.resend, true);
    assert.deepEqual(s.serverHeads, []);
  }
  const up = await round(m, store, restored);
  assert.deepEqual(up.request.docs.map((d) => d.id).sort(), [...ids].sort());
  for (const d of up.request.docs) assert.deepEqual(d.changes, (await store.getRecord(d.id)).bytes, 'whole records');
  assert.deepEqual(up.step.acknowledged.sort(), [...ids].sort());
  assert.equal(restored.docs.size, 2, 'nothing lost as long as one phone holds it');

  // A resend request from the server: next upload whole.
  const id = ids[0];
  const edited = A.change(A.load((await store.getRecord(id)).bytes, { actor }), (d) => {
    d.title = '再改';
  });
  await saveLocal(store, id, edited);
  const states = await store.getStates();
  const answer = decodeResponse(encodeResponse({ cursor: restored.cursor(), docs: [{ id, resend: true }] }));
  const { writes, step } = m.applyResponse({ states, docs: new Map([[id, A.save(edited)]]), actor }, answer, 9);
  assert.equal(step.more, true);
  await store.commit(writes);
  const again = m.buildRequest({ cursor: null, states: (await store.getStates()).values(), docs: new Map([[id, A.save(edited)]]) });
  assert.deepEqual(again.docs[0].changes, A.save(edited));
});

test('purge deletes records the device may no longer hold, with the cursor in the same commit', async () => {
  const store = new MemoryStore();
  const server = new FakeServer();
  const m = machine();
  const keep = newDocumentId();
  const gone = newDocumentId();
  server.put(keep, record('留'));
  server.put(gone, record('去'));
  await syncAll(m, store, server);
  assert.equal((await store.ids()).length, 2);
  server.purgeNext.push(gone);
  const commits = store.commits;
  const r = await round(m, store, server);
  assert.deepEqual(r.step.purged, [gone]);
  assert.deepEqual(r.writes.deletes, [gone]);
  assert.ok(r.writes.meta.cursor, 'cursor written in the same write set');
  assert.equal(store.commits, commits + 1, 'one commit');
  assert.deepEqual(await store.ids(), [keep]);
  assert.equal(await store.getState(gone), undefined);
});

test('a bootstrap over the budget takes several rounds with progress from `remaining`, and resumes after a cut', async () => {
  const server = new FakeServer();
  // Text that does not compress away: a pseudo-random run of characters.
  let seed = 7;
  const noise = () => Array.from({ length: 300 }, () => String.fromCharCode(0x4e00 + ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % 2000))).join('');
  for (let i = 0; i < 30; i++) server.put(newDocumentId(), record(`记录 ${i} ${noise()}`));
  const store = new MemoryStore();
  const m = machine({ responseBudget: 4 * 1024 });
  const progress = [];
  let rounds = 0;
  for (;;) {
    const r = await round(m, store, server);
    rounds++;
    progress.push(m.progress());
    if (rounds === 3) {
      // The connection is cut: the next response is lost.
      const lost = await round(m, store, server, { lose: 'response' });
      assert.equal(lost.decision.action, 'wait');
      assert.ok(m.progress(), 'progress survives a retry');
      m.retryAt = 0; // the pause is over
    }
    if (!r.step.more) break;
  }
  assert.ok(rounds > 3, `${rounds} rounds`);
  assert.equal((await store.ids()).length, 30, 'every record, no duplicates');
  const totals = progress.filter(Boolean).map((p) => p.total);
  assert.ok(totals.every((t) => t === 30), JSON.stringify(progress));
  const dones = progress.filter(Boolean).map((p) => p.done);
  assert.deepEqual(dones, [...dones].sort((a, b) => a - b), 'progress only grows');
  assert.equal(m.progress(), null, 'no progress once done');
});

test('without `remaining` from the server there is no progress to show', async () => {
  const server = new FakeServer();
  server.sendRemaining = false;
  for (let i = 0; i < 5; i++) server.put(newDocumentId(), record(`无计数 ${i}`));
  const store = new MemoryStore();
  const m = machine({ responseBudget: 1 });
  const first = await round(m, store, server);
  assert.equal(first.step.more, true);
  assert.equal(first.step.remaining, null);
  assert.equal(m.progress(), null);
  await syncAll(m, store, server);
  assert.equal((await store.ids()).length, 5);
});

test('the upload budget leaves records for the next request and asks for it', async () => {
  const store = new MemoryStore();
  const server = new FakeServer();
  const m = machine({ uploadBudget: 1 });
  const ids = [newDocumentId(), newDocumentId(), newDocumentId()].sort();
  for (const id of ids) await saveLocal(store, id, record(`上传 ${id}`));
  const first = await round(m, store, server);
  assert.equal(first.request.docs.length, 1, 'one always goes');
  assert.equal(first.step.more, true);
  assert.equal(first.decision.action, 'send');
  const steps = await syncAll(m, store, server);
  assert.equal(steps.length, 2);
  assert.deepEqual(await store.dirtyIds(), []);
  assert.equal(server.docs.size, 3);
});

test('bad bytes from the server fail the response and write nothing', async () => {
  const store = new MemoryStore();
  const m = machine();
  const id = newDocumentId();
  const response = decodeResponse(encodeResponse({ cursor: new Uint8Array([7]), docs: [{ id, heads: ['11'.repeat(32)], data: new Uint8Array([1, 2, 3, 4]) }] }));
  assert.throws(() => m.applyResponse({ states: new Map(), docs: new Map(), actor }, response, 1), (e) => e instanceof SyncError && e.code === 'bad_server_data');
  assert.equal(await store.getMeta('cursor'), undefined);
});

test('the scheduler: first sync, periodic sync, backoff with jitter, Retry-After, 401, offline and online', () => {
  const m = new SyncMachine({ random: () => 0, periodMs: 60_000, firstBackoffMs: 2_000, maxBackoffMs: 30_000 });
  assert.deepEqual(m.start(0), { action: 'send' });
  m.sent(0);
  assert.deepEqual(m.decide(1), { action: 'idle', why: 'in_flight' });
  const ok = { more: false, results: 0, remaining: null };
  assert.deepEqual(m.succeeded(/** @type {any} */ (ok), 100), { action: 'wait', at: 60_100 });
  assert.deepEqual(m.tick(60_100), { action: 'send' });

  // 503 and 429: retry after growing pauses (jitter 0 → half the pause).
  m.sent(60_100);
  assert.deepEqual(m.failed({ code: 'unavailable', message: 'busy', status: 503 }, 61_000), { action: 'wait', at: 62_000 });
  m.sent(62_000);
  assert.deepEqual(m.failed({ code: 'rate_limited', message: 'slow', status: 429 }, 62_000), { action: 'wait', at: 64_000 });
  m.sent(64_000);
  assert.deepEqual(m.failed(new SyncError('network', 'down'), 64_000), { action: 'wait', at: 68_000 });
  for (let i = 0; i < 10; i++) {
    m.sent(0);
    m.failed(new SyncError('timeout', 'slow'), 0);
  }
  assert.deepEqual(m.decide(0), { action: 'wait', at: 15_000 }, 'capped (half of the longest pause with jitter 0)');
  // Retry-After is honoured.
  m.sent(0);
  assert.deepEqual(m.failed({ code: 'rate_limited', message: 'slow', retryAfterMs: 120_000 }, 0), { action: 'wait', at: 120_000 });
  // Jitter comes from the injected source.
  const j = new SyncMachine({ random: () => 1, firstBackoffMs: 2_000 });
  assert.equal(j.backoff(1, null), 2_000);
  assert.equal(j.backoff(2, null), 4_000);

  // Going offline stops everything; coming back syncs at once.
  assert.deepEqual(m.setOnline(false, 1), { action: 'idle', why: 'offline' });
  assert.deepEqual(m.setOnline(true, 2), { action: 'send' });

  // A failure retrying cannot cure halts until "sync now".
  m.sent(3);
  assert.deepEqual(m.failed({ code: 'forbidden', message: 'no' }, 3), { action: 'idle', why: 'halted' });
  assert.equal(m.lastError.code, 'forbidden');
  assert.deepEqual(m.syncNow(4), { action: 'send' });

  // 401 signs out.
  m.sent(5);
  const out = m.failed({ code: 'unauthorized', message: 'revoked', status: 401 }, 5);
  assert.equal(out.signOut, true);
  assert.deepEqual(m.decide(6), { action: 'idle', why: 'signed_out' });
  assert.deepEqual(m.syncNow(7), { action: 'idle', why: 'signed_out' });
});

test('retryable codes follow the protocol table', () => {
  for (const code of ['rate_limited', 'unavailable', 'internal', 'network', 'timeout', 'bad_response']) assert.ok(isRetryable({ code }), code);
  for (const code of ['bad_request', 'unauthorized', 'forbidden', 'not_found', 'too_large', 'invalid_record', 'unsupported_version', 'conflict', 'removed']) {
    assert.ok(!isRetryable({ code }), code);
  }
  assert.ok(isRetryable({ code: 'unknown', status: 502 }));
  assert.ok(!isRetryable({ code: 'unknown', status: 400 }));
});

test('a run that never ends stops after the round limit', async () => {
  const m = new SyncMachine({ maxRounds: 3 });
  m.start(0);
  for (let i = 0; i < 2; i++) {
    m.sent(0);
    assert.deepEqual(m.succeeded(/** @type {any} */ ({ more: true, results: 1, remaining: 5 }), 0), { action: 'send' });
  }
  m.sent(0);
  assert.deepEqual(m.succeeded(/** @type {any} */ ({ more: true, results: 1, remaining: 5 }), 0), { action: 'idle', why: 'halted' });
  assert.equal(m.lastError.code, 'too_many_rounds');
});

test('sameHeads ignores order and never calls empty sets equal', () => {
  assert.ok(sameHeads(['b', 'a'], ['a', 'b']));
  assert.ok(!sameHeads([], []));
  assert.ok(!sameHeads(['a'], ['a', 'b']));
});
