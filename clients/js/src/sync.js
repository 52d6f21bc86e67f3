// The phone side of batch sync (`POST /v1/sync`) as a sans-IO state
// machine: the JavaScript twin of `fengqiao_shared::replica::sync` (Rust).
//
// Nothing here touches the network, the clock or the store. The driver
// (FieldClient, or your own transport) feeds it:
//   - snapshots of store state (the cursor, dirty records, states),
//   - responses, failures, timer ticks, online/offline events, "sync now";
// and gets back:
//   - the request to send (`buildRequest`),
//   - the store writes of one response, to commit in ONE transaction
//     (`applyResponse`): the records, their states, the purges, the cursor,
//   - a scheduling decision: send now, wait until a time, or stay idle.
//
// Guarantees (as the Rust phone; docs/RELIABILITY.md):
// - The cursor is written in the same commit as the records of the
//   response that produced it, so a crash or a lost response just repeats
//   the exchange; applying Automerge changes twice is a no-op.
// - A record stays dirty until the server's heads equal the phone's, so an
//   upload lost on the way is sent again.
// - A record the server refused, or answered with nothing, needs a
//   person's attention and is not uploaded again by itself.
// - `reset` uploads every record again (whole); `purge` deletes records the
//   device may no longer hold.
import { A } from './automerge.js';

/** @typedef {import('./wire.js').SyncRequest} SyncRequest */
/** @typedef {import('./wire.js').SyncResponse} SyncResponse */
/** @typedef {import('./wire.js').ErrorBody} ErrorBody */
/** @typedef {import('./store/memory.js').State} State */
/** @typedef {import('./store/memory.js').WriteSet} WriteSet */

/**
 * @typedef {object} SyncOptions
 * @property {number} [responseBudget]  response budget sent to the server, bytes (512 KiB)
 * @property {number} [uploadBudget]    stop adding uploads once their bytes pass this (256 KiB); one always goes
 * @property {number} [periodMs]        sync this often while online (60 s)
 * @property {number} [firstBackoffMs]  pause after the first retryable failure (2 s); doubles each time
 * @property {number} [maxBackoffMs]    longest pause (5 min)
 * @property {number} [maxRounds]       rounds of one run before giving up (10,000)
 * @property {() => number} [random]    jitter source in [0, 1) (Math.random)
 * @property {(doc: any) => any} [summarize]  the record's Summary, or throws/null when it is not one
 * @property {(before: any, after: any, person: string | null) => any} [describeMerge]  News or null
 * @property {string | null} [person]   this phone's person id, for describeMerge
 */

/**
 * What applying one response did.
 * @typedef {object} SyncStep
 * @property {boolean} more         another request is needed now
 * @property {string[]} acknowledged  uploads the server confirmed
 * @property {string[]} received    records that received changes
 * @property {string[]} merged      records that had local changes and received others'
 * @property {{id: string, error: ErrorBody}[]} rejected
 * @property {string[]} purged
 * @property {boolean} reset
 * @property {number} results       doc results in the response
 * @property {number | null} remaining  records the server still has to send (if it says)
 * @property {Uint8Array} [cursor]  the cursor the response carried
 */

/**
 * A scheduling decision.
 * @typedef {{action: 'send'} | {action: 'wait', at: number} | {action: 'idle', why: string}} Decision
 */

/** A failure of one exchange, as the transport reports it. */
export class SyncError extends Error {
  /**
   * @param {string} code  a protocol error code ('unauthorized', 'rate_limited', …) or
   *   'network' | 'timeout' | 'bad_response' | 'bad_server_data' | 'too_many_rounds' | 'storage'
   * @param {string} message
   * @param {{status?: number, retryAfterMs?: number, cause?: unknown}} [extra]
   */
  constructor(code, message, extra = {}) {
    super(message, { cause: extra.cause });
    this.name = 'SyncError';
    this.code = code;
    this.status = extra.status ?? null;
    this.retryAfterMs = extra.retryAfterMs ?? null;
  }
}

/** Resets one run may see before it is stopped: a server that asks for everything again and again. */
export const MAX_RESETS_PER_RUN = 2;
/** Answers in a row that say "more" yet carry nothing and keep the cursor, before a run is stopped. */
export const MAX_STALLS = 3;

/** Codes after which the same request may succeed later. */
const RETRYABLE = new Set(['network', 'timeout', 'bad_response', 'bad_server_data', 'rate_limited', 'unavailable', 'internal', 'storage', 'storage_full']);

/**
 * Whether retrying after `error` may succeed.
 * @param {{code: string, status?: number | null}} error
 */
export function isRetryable(error) {
  if (RETRYABLE.has(error.code)) return true;
  // An unknown code with a server-side status is the server's trouble.
  return error.code === 'unknown' && (error.status ?? 0) >= 500;
}

/** What a phone records for an upload the server answered with nothing. */
export const NOT_HELD_HERE = Object.freeze({
  code: 'not_found',
  message: 'the server holds no such record for this device; it is kept on this phone and not uploaded again',
});

/** @param {string} id @returns {State} */
export function emptyState(id) {
  return { id, serverHeads: [], dirty: false, attention: null, resend: false, summary: null, news: null };
}

/**
 * Whether two head sets are equal, whatever their order (and not empty).
 * @param {string[]} a
 * @param {string[]} b
 */
export function sameHeads(a, b) {
  if (a.length === 0 || a.length !== b.length) return false;
  const sa = [...a].sort();
  const sb = [...b].sort();
  return sa.every((h, i) => h === sb[i]);
}

/**
 * Folds two News of the same record (the older unseen one first).
 * @param {any} older
 * @param {any} newer
 */
export function foldNews(older, newer) {
  if (!older) return newer ?? null;
  if (!newer) return older;
  return {
    ...newer,
    eventsAdded: [...(older.eventsAdded ?? []), ...(newer.eventsAdded ?? [])],
    statusBefore: older.statusBefore ?? newer.statusBefore,
    stageBefore: older.stageBefore ?? newer.stageBefore ?? null,
    riskBefore: older.riskBefore ?? newer.riskBefore,
    riskConflict: newer.riskConflict ?? older.riskConflict ?? null,
    sentimentConflict: newer.sentimentConflict ?? older.sentimentConflict ?? null,
  };
}

export class SyncMachine {
  /** @param {SyncOptions} [options] */
  constructor(options = {}) {
    this.responseBudget = options.responseBudget ?? 512 * 1024;
    this.uploadBudget = options.uploadBudget ?? 256 * 1024;
    this.periodMs = options.periodMs ?? 60_000;
    this.firstBackoffMs = options.firstBackoffMs ?? 2_000;
    this.maxBackoffMs = options.maxBackoffMs ?? 5 * 60_000;
    this.maxRounds = options.maxRounds ?? 10_000;
    this.random = options.random ?? Math.random;
    this.summarize = options.summarize ?? (() => null);
    this.describeMerge = options.describeMerge ?? null;
    this.person = options.person ?? null;

    // --- scheduling state ---
    this.online = true;
    this.inFlight = false;
    /** A run wants another request as soon as possible. */
    this.pending = false;
    /** Stopped by a failure that retrying does not cure, until "sync now" or reconnecting. */
    this.halted = false;
    this.signedOut = false;
    this.failures = 0;
    /** @type {number | null} */
    this.retryAt = null;
    /** @type {number | null} */
    this.nextPeriodicAt = null;
    /** @type {SyncError | null} */
    this.lastError = null;
    /** @type {number | null} */
    this.lastSync = null;
    this.rounds = 0;
    /** Records received in this run, and the server's last count of what remains. */
    this.done = 0;
    /** @type {number | null} */
    this.remaining = null;
    /** A run (requests until `more` is false) is under way. */
    this.runActive = false;
    /** Whether the last request left dirty records out (upload budget). */
    this.uploadsLeft = false;
    /** Resets seen in this run. */
    this.resets = 0;
    /** Answers in a row in this run that said "more" and moved nothing. */
    this.stalls = 0;
    /** @type {Uint8Array | null} the cursor of the run's last answer */
    this.lastCursor = null;
  }

  // ---------------------------------------------------------------- requests

  /**
   * Ids of the records to upload, in order: dirty ones without attention.
   * @param {Iterable<State>} states
   * @returns {string[]}
   */
  uploadOrder(states) {
    const out = [];
    for (const s of states) if (s.dirty && !s.attention) out.push(s.id);
    return out.sort();
  }

  /**
   * Starts a request at `cursor`. Add records with `add` while `wants()`,
   * then `finish()`. (The driver loads each record's bytes between calls,
   * so a phone with thousands of dirty records loads only what fits.)
   * @param {Uint8Array | null | undefined} cursor
   */
  beginRequest(cursor) {
    const machine = this;
    /** @type {import('./wire.js').DocUpload[]} */
    const docs = [];
    let bytes = 0;
    let skipped = false;
    return {
      /** Whether another upload fits (the first always does). */
      wants() {
        if (docs.length > 0 && bytes >= machine.uploadBudget) {
          skipped = true;
          return false;
        }
        return true;
      },
      /**
       * @param {string} id
       * @param {State} state
       * @param {Uint8Array | undefined} stored  the record's bytes; undefined when discarded locally
       */
      add(id, state, stored) {
        const upload = machine.upload(id, state, stored);
        bytes += (upload.changes?.length ?? 0) + 64;
        docs.push(upload);
      },
      /** Marks that dirty records were left for a later request. */
      leftSome() {
        skipped = true;
      },
      /** @returns {SyncRequest} */
      finish() {
        machine.uploadsLeft = skipped;
        /** @type {SyncRequest} */
        const request = { v: 1, budget: machine.responseBudget, docs };
        if (cursor && cursor.length >= 0) request.cursor = cursor;
        return request;
      },
    };
  }

  /**
   * Builds a whole request from a snapshot (convenience over beginRequest).
   * @param {{cursor?: Uint8Array | null, states: Iterable<State>, docs: Map<string, Uint8Array>}} snapshot
   * @returns {SyncRequest}
   */
  buildRequest(snapshot) {
    const states = new Map([...snapshot.states].map((s) => [s.id, s]));
    const builder = this.beginRequest(snapshot.cursor ?? null);
    const order = this.uploadOrder(states.values());
    for (let i = 0; i < order.length; i++) {
      if (!builder.wants()) break;
      const id = order[i];
      builder.add(id, /** @type {State} */ (states.get(id)), snapshot.docs.get(id));
    }
    return builder.finish();
  }

  /**
   * One record's upload: its heads and what the server may lack — the
   * whole stored bytes when the server never confirmed it or asked for
   * everything, else the changes since the heads it confirmed.
   * @param {string} id
   * @param {State} state
   * @param {Uint8Array | undefined} stored
   * @returns {import('./wire.js').DocUpload}
   */
  upload(id, state, stored) {
    if (!stored) return { id, heads: [], changes: new Uint8Array(0) };
    const doc = A.load(stored);
    const heads = A.getHeads(doc);
    let changes;
    if (state.resend || state.serverHeads.length === 0) {
      changes = stored;
    } else {
      try {
        changes = A.saveSince(doc, state.serverHeads);
      } catch {
        // Heads this document does not know: send it whole.
        changes = stored;
      }
    }
    return { id, heads, changes };
  }

  // --------------------------------------------------------------- responses

  /**
   * The records whose bytes `applyResponse` needs.
   * @param {SyncResponse} response
   * @returns {{ids: string[], allHeld: boolean}}  allHeld: also every held id (a reset)
   */
  needs(response) {
    return { ids: [...new Set(response.docs.map((d) => d.id))], allHeld: response.reset };
  }

  /**
   * Merges a response into a snapshot of the store and returns the writes
   * to commit in ONE transaction, with what happened. Throws SyncError
   * 'bad_server_data' (nothing written) when the server's bytes are not
   * Automerge.
   *
   * @param {{states: Map<string, State>, docs: Map<string, Uint8Array>, heldIds?: string[], actor?: string}} snapshot
   *   states: every record's state (or at least those named in the response);
   *   docs: bytes of the records named in the response that are held;
   *   heldIds: every held record's id (needed when response.reset).
   * @param {SyncResponse} response
   * @param {number} now
   * @returns {{writes: WriteSet, step: SyncStep}}
   */
  applyResponse(snapshot, response, now) {
    /** @type {Map<string, State>} */
    const changed = new Map();
    /** @type {Map<string, Uint8Array>} */
    const records = new Map();
    /** @type {SyncStep} */
    const step = {
      more: false,
      acknowledged: [],
      received: [],
      merged: [],
      rejected: [],
      purged: [],
      reset: response.reset,
      results: response.docs.length,
      remaining: response.remaining,
      cursor: response.cursor,
    };
    const stateOf = (/** @type {string} */ id) => changed.get(id) ?? snapshot.states.get(id) ?? emptyState(id);
    let resendRequested = false;
    if (response.reset) {
      // The server may have lost changes it once confirmed: forget its
      // confirmations and upload every record again, whole.
      for (const id of snapshot.heldIds ?? [...snapshot.docs.keys()]) {
        changed.set(id, { ...stateOf(id), serverHeads: [], resend: true, dirty: true });
      }
      resendRequested = true;
    }
    // Was it dirty before this response (reset's marking aside)?
    const wasDirty = (/** @type {string} */ id) => !!snapshot.states.get(id)?.dirty;
    /** @type {Map<string, any>} working documents, when one id appears twice */
    const working = new Map();

    for (const result of response.docs) {
      const id = result.id;
      const dirtyBefore = wasDirty(id);
      const state = { ...stateOf(id) };
      const heldBytes = records.get(id) ?? snapshot.docs.get(id);
      let doc = working.get(id) ?? (heldBytes ? loadOrThrow(heldBytes, id, snapshot.actor) : null);
      const newHere = !doc;
      const unanswered = dirtyBefore && result.heads.length === 0 && result.data.length === 0 && !result.error && !result.resend;
      if (!doc && result.data.length === 0) {
        // Nothing held and nothing sent: only an error can be reported,
        // and a record asked for in vain is no longer asked for.
        if (result.error) step.rejected.push({ id, error: result.error });
        if (unanswered && snapshot.states.has(id)) changed.set(id, { ...state, dirty: false });
        continue;
      }
      let received = false;
      const before = doc;
      if (result.data.length > 0) {
        const headsBefore = doc ? A.getHeads(doc) : [];
        const options = snapshot.actor ? { actor: snapshot.actor } : undefined;
        try {
          // A record new to the phone is loaded, not merged into an empty
          // document: nothing needs the patches a merge computes, and a
          // bootstrap is thousands of these.
          doc = newHere ? A.load(result.data, options) : A.loadIncremental(A.clone(doc, options), result.data);
        } catch (e) {
          throw new SyncError('bad_server_data', `the server sent bytes that are not a valid Automerge record for ${id}: ${e instanceof Error ? e.message : e}`, { cause: e });
        }
        received = !sameHeadsOrBothEmpty(A.getHeads(doc), headsBefore);
      }
      working.set(id, doc);
      if (received) {
        step.received.push(id);
        if (dirtyBefore) step.merged.push(id);
      }
      const error = result.error ?? (unanswered ? { ...NOT_HELD_HERE } : null);
      if (error) {
        state.attention = error;
        step.rejected.push({ id, error });
      }
      if (result.heads.length > 0) state.serverHeads = result.heads;
      state.resend = result.resend;
      resendRequested ||= result.resend;
      const confirmed = sameHeads(state.serverHeads, A.getHeads(doc));
      if (dirtyBefore && confirmed) step.acknowledged.push(id);
      if (received || !state.summary) {
        state.summary = safeSummary(this.summarize, doc, id) ?? state.summary;
      }
      if (received && !newHere && this.describeMerge) {
        let news = null;
        try {
          news = this.describeMerge(before, doc, this.person);
        } catch {
          news = null;
        }
        if (news) state.news = foldNews(state.news, news);
      }
      if (newHere && !records.has(id)) {
        // The bytes that built the record from nothing load into the same
        // record: keep them rather than encode it again.
        records.set(id, result.data);
      } else if (received) {
        records.set(id, A.save(doc));
      }
      state.dirty = !confirmed && !state.attention;
      changed.set(id, state);
    }

    /** @type {WriteSet} */
    const writes = {
      records: [...records].map(([id, bytes]) => ({ id, bytes })),
      states: [...changed.values()],
      deletes: [],
      meta: { cursor: response.cursor, lastSync: now },
    };
    for (const id of response.purge) {
      /** @type {string[]} */ (writes.deletes).push(id);
      step.purged.push(id);
    }
    if (response.purge.length > 0) {
      const purged = new Set(response.purge);
      writes.records = /** @type {any[]} */ (writes.records).filter((r) => !purged.has(r.id));
      writes.states = /** @type {any[]} */ (writes.states).filter((s) => !purged.has(s.id));
    }
    step.more = response.more || this.uploadsLeft || resendRequested;
    return { writes, step };
  }

  // -------------------------------------------------------------- scheduling

  /**
   * What to do now.
   * @param {number} now
   * @returns {Decision}
   */
  decide(now) {
    if (this.signedOut) return { action: 'idle', why: 'signed_out' };
    if (!this.online) return { action: 'idle', why: 'offline' };
    if (this.inFlight) return { action: 'idle', why: 'in_flight' };
    if (this.halted) return { action: 'idle', why: 'halted' };
    if (this.retryAt !== null) {
      if (now < this.retryAt) return { action: 'wait', at: this.retryAt };
      return { action: 'send' };
    }
    if (this.pending) return { action: 'send' };
    if (this.nextPeriodicAt === null || now >= this.nextPeriodicAt) return { action: 'send' };
    return { action: 'wait', at: this.nextPeriodicAt };
  }

  /** The app opened (online or not): sync once at start when online. */
  start(/** @type {number} */ now, /** @type {boolean} */ online = true) {
    this.online = online;
    this.pending = true;
    return this.decide(now);
  }

  /**
   * The network came or went.
   * @param {boolean} online
   * @param {number} now
   */
  setOnline(online, now) {
    const was = this.online;
    this.online = online;
    if (online && !was) {
      // The signal is back: sync at once, forget the pause.
      this.pending = true;
      this.halted = false;
      this.retryAt = null;
      this.failures = 0;
    }
    return this.decide(now);
  }

  /** "Sync now": at once, even during a pause or after a failure. */
  syncNow(/** @type {number} */ now) {
    this.pending = true;
    this.halted = false;
    this.retryAt = null;
    return this.decide(now);
  }

  /** A timer the driver set for a 'wait' decision fired. */
  tick(/** @type {number} */ now) {
    return this.decide(now);
  }

  /** The driver sends the request it built now. */
  sent(/** @type {number} */ now) {
    void now;
    if (!this.runActive) {
      // A new run (first, periodic, reconnect or "sync now").
      this.runActive = true;
      this.done = 0;
      this.remaining = null;
      this.rounds = 0;
      this.resets = 0;
      this.stalls = 0;
      this.lastCursor = null;
    }
    this.inFlight = true;
    this.pending = false;
    this.retryAt = null;
    this.rounds++;
  }

  /**
   * The driver committed the writes of a response.
   * @param {SyncStep} step
   * @param {number} now
   * @returns {Decision}
   */
  succeeded(step, now) {
    this.inFlight = false;
    this.failures = 0;
    this.lastError = null;
    this.lastSync = now;
    this.done += step.results;
    this.remaining = step.remaining;
    // A server that loops (asks for everything again at every answer, or
    // says "more" and sends nothing from the same cursor) would keep the
    // phone sending for ever: the run stops, as after too many rounds.
    if (step.reset) this.resets++;
    const cursor = step.cursor ?? null;
    const stalled =
      step.more && step.results === 0 && step.purged.length === 0 && !step.reset && cursor !== null && this.lastCursor !== null && sameBytes(cursor, this.lastCursor);
    this.stalls = stalled ? this.stalls + 1 : 0;
    if (cursor) this.lastCursor = cursor;
    if (step.more) {
      let why = null;
      if (this.rounds >= this.maxRounds) why = `sync did not finish within ${this.maxRounds} rounds; sync again to continue`;
      else if (this.resets > MAX_RESETS_PER_RUN) why = `the server asked for every record again ${this.resets} times in one sync; stopped; sync again later`;
      else if (this.stalls >= MAX_STALLS) why = 'the server keeps saying there is more but sends nothing; stopped; sync again later';
      if (why) {
        this.halted = true;
        this.runActive = false;
        this.pending = false;
        this.lastError = new SyncError('too_many_rounds', why);
        this.nextPeriodicAt = now + this.periodMs;
        return this.decide(now);
      }
      this.pending = true;
    } else {
      this.pending = false;
      this.runActive = false;
      this.nextPeriodicAt = now + this.periodMs;
    }
    return this.decide(now);
  }

  /**
   * An exchange failed (nothing was written).
   * @param {SyncError | {code: string, message: string, status?: number, retryAfterMs?: number | null}} error
   * @param {number} now
   * @returns {Decision & {signOut?: boolean}}
   */
  failed(error, now) {
    this.inFlight = false;
    this.lastError = error instanceof SyncError ? error : new SyncError(error.code, error.message, { status: error.status, retryAfterMs: error.retryAfterMs ?? undefined });
    if (error.code === 'unauthorized') {
      this.signedOut = true;
      this.pending = false;
      this.runActive = false;
      return { ...this.decide(now), signOut: true };
    }
    if (isRetryable(error)) {
      this.failures++;
      this.pending = true;
      this.retryAt = now + this.backoff(this.failures, error.retryAfterMs ?? null);
      return this.decide(now);
    }
    // Retrying the same request will not help: wait for a person.
    this.halted = true;
    this.pending = false;
    this.runActive = false;
    this.nextPeriodicAt = now + this.periodMs;
    return this.decide(now);
  }

  /**
   * The pause after failure number `n` (1-based): doubling from the
   * first pause up to the longest, with jitter (half fixed, half random),
   * and never shorter than the server's Retry-After.
   * @param {number} n
   * @param {number | null} retryAfterMs
   */
  backoff(n, retryAfterMs) {
    const base = Math.min(this.maxBackoffMs, this.firstBackoffMs * 2 ** Math.min(n - 1, 30));
    const jittered = Math.round(base / 2 + (base / 2) * this.random());
    return Math.max(jittered, Math.min(retryAfterMs ?? 0, 60 * 60_000));
  }

  /** Progress of a bootstrap or long run: done / (done + remaining). */
  progress() {
    if (!this.runActive || this.remaining === null) return null;
    return { done: this.done, total: this.done + this.remaining };
  }
}

/**
 * @param {Uint8Array} bytes
 * @param {string} id
 * @param {string | undefined} actor
 */
function loadOrThrow(bytes, id, actor) {
  try {
    return actor ? A.load(bytes, { actor }) : A.load(bytes);
  } catch (e) {
    throw new SyncError('storage', `record ${id} on this phone is damaged: ${e instanceof Error ? e.message : e}`, { cause: e });
  }
}

/**
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 */
function sameBytes(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * @param {string[]} a
 * @param {string[]} b
 */
function sameHeadsOrBothEmpty(a, b) {
  if (a.length === 0 && b.length === 0) return true;
  return sameHeads(a, b);
}

/**
 * @param {(doc: any) => any} summarize
 * @param {any} doc
 * @param {string} id
 */
function safeSummary(summarize, doc, id) {
  try {
    const summary = summarize(doc);
    return summary ? { ...summary, id } : null;
  } catch {
    return null;
  }
}
