// A small in-process stand-in for the server's batch door, for the sync
// and client tests: it speaks the real envelope (wire.js), keeps records as
// Automerge documents and a change feed, cuts responses at the budget and
// counts what remains. It is not the server: the end-to-end test
// (client-server.test.js) runs against the real one.
import { A } from '../src/automerge.js';
import { decodeRequest, encodeResponse, gunzip } from '../src/wire.js';

export class FakeServer {
  constructor() {
    /** @type {Map<string, any>} */
    this.docs = new Map();
    /** @type {{id: string, seq: number}[]} change feed: the last change of each id wins */
    this.feed = [];
    this.seq = 0;
    /** Bumped by restore(): cursors of an older epoch are not recognised. */
    this.epoch = 1;
    /** @type {Set<string>} ids refused with `forbidden` */
    this.refuse = new Set();
    /** @type {Set<string>} ids answered with nothing */
    this.silent = new Set();
    /** @type {string[]} ids to purge at the next response */
    this.purgeNext = [];
    /** @type {any[]} requests seen (decoded) */
    this.requests = [];
    /** @type {{status: number, body: Uint8Array, headers?: Record<string, string>}[]} failures to answer with, in order */
    this.failures = [];
    this.sendRemaining = true;
  }

  /** @param {string} id @param {any} doc */
  put(id, doc) {
    this.docs.set(id, A.clone(doc));
    this.touch(id);
  }

  /** @param {string} id */
  touch(id) {
    this.seq++;
    this.feed = this.feed.filter((e) => e.id !== id);
    this.feed.push({ id, seq: this.seq });
  }

  /** Forgets everything issued since `seq` and changes epoch (a restore from backup). */
  restore() {
    this.epoch++;
  }

  cursor() {
    return new TextEncoder().encode(`${this.epoch}:${this.seq}`);
  }

  /** @param {Uint8Array | null} cursor @returns {number | null} */
  readCursor(cursor) {
    if (!cursor) return null;
    const [epoch, seq] = new TextDecoder().decode(cursor).split(':').map(Number);
    return epoch === this.epoch && Number.isFinite(seq) && seq <= this.seq ? seq : -1;
  }

  /**
   * Handles one request body; returns the response body (CBOR).
   * @param {Uint8Array} body
   */
  handle(body) {
    const request = decodeRequest(body);
    this.requests.push(request);
    const budget = request.budget ?? 1024 * 1024;
    const seen = this.readCursor(request.cursor);
    const reset = seen === -1;
    const since = seen === null || seen === -1 ? 0 : seen;
    /** @type {any[]} */
    const docs = [];
    const answered = new Set();
    for (const up of request.docs) {
      answered.add(up.id);
      if (this.silent.has(up.id)) {
        docs.push({ id: up.id });
        continue;
      }
      if (this.refuse.has(up.id)) {
        docs.push({ id: up.id, error: { code: 'forbidden', message: 'this device may not write this record' } });
        continue;
      }
      let doc = this.docs.get(up.id) ?? A.init();
      const before = A.getHeads(doc);
      if (up.changes.length > 0) doc = A.loadIncremental(doc, up.changes);
      const missing = up.heads.filter((h) => !A.hasHeads(doc, [h]));
      if (up.changes.length > 0 && missing.length > 0 && A.getHeads(doc).length > 0) {
        // Changes whose dependencies the server lacks: ask for all.
        docs.push({ id: up.id, heads: before, resend: true });
        continue;
      }
      if (A.getHeads(doc).length === 0) {
        docs.push({ id: up.id, resend: up.changes.length > 0 });
        continue;
      }
      this.docs.set(up.id, doc);
      if (before.join() !== A.getHeads(doc).join()) this.touch(up.id);
      const phoneHas = up.heads.every((h) => A.hasHeads(doc, [h]));
      const data = phoneHas && up.heads.length > 0 ? A.saveSince(doc, up.heads) : A.save(doc);
      const lacks = !sameSet(A.getHeads(doc), up.heads);
      docs.push({ id: up.id, heads: A.getHeads(doc), data: lacks ? data : new Uint8Array(0) });
    }
    let size = docs.reduce((n, d) => n + (d.data?.length ?? 0) + 100, 0);
    const pending = this.feed.filter((e) => e.seq > since && !answered.has(e.id));
    let upTo = since;
    let sent = 0;
    for (const entry of pending) {
      const doc = this.docs.get(entry.id);
      const data = A.save(doc);
      if (sent + docs.length > 0 && size + data.length > budget) break;
      docs.push({ id: entry.id, heads: A.getHeads(doc), data });
      size += data.length + 100;
      upTo = entry.seq;
      sent++;
    }
    const more = sent < pending.length;
    if (!more) upTo = this.seq;
    const cursor = new TextEncoder().encode(`${this.epoch}:${upTo}`);
    const purge = this.purgeNext.splice(0);
    return encodeResponse({
      cursor,
      more,
      docs,
      purge,
      reset,
      remaining: this.sendRemaining ? pending.length - sent : undefined,
    });
  }

  /**
   * A `fetch` over this server: POST /v1/sync (gunzipping bodies sent
   * with Content-Encoding: gzip), GET /v1/me and /v1/people.
   * @param {{token?: string, me?: any, people?: any[], log?: any[]}} [options]
   * @returns {typeof fetch}
   */
  fetcher(options = {}) {
    const server = this;
    return /** @type {any} */ (
      async (/** @type {string} */ url, /** @type {any} */ init = {}) => {
        const headers = new Headers(init.headers);
        options.log?.push({ url, method: init.method ?? 'GET', headers, bodyLength: init.body?.length ?? 0 });
        const auth = headers.get('authorization');
        if (options.token && auth !== `Bearer ${options.token}`) {
          return new Response(cbor401(), { status: 401, headers: { 'content-type': 'application/cbor' } });
        }
        const path = new URL(url).pathname;
        if (path === '/v1/me') return Response.json(options.me);
        if (path === '/v1/people') return Response.json({ people: options.people ?? [] });
        if (path !== '/v1/sync') return new Response('', { status: 404 });
        const failure = server.failures.shift();
        if (failure) return new Response(failure.body, { status: failure.status, headers: failure.headers });
        let body = init.body;
        if (headers.get('content-encoding') === 'gzip') body = await gunzip(body);
        const answer = server.handle(body);
        return new Response(answer, { status: 200, headers: { 'content-type': 'application/cbor' } });
      }
    );
  }
}

function cbor401() {
  // {code: "unauthorized", message: "revoked"}
  const text = (/** @type {string} */ s) => [0x60 + s.length, ...new TextEncoder().encode(s)];
  return new Uint8Array([0xa2, ...text('code'), ...text('unauthorized'), ...text('message'), ...text('revoked')]);
}

/**
 * @param {string[]} a
 * @param {string[]} b
 */
function sameSet(a, b) {
  return a.length === b.length && a.every((h) => b.includes(h));
}
