// A Store that lives in memory: for tests, tools and shells that keep
// records elsewhere. Values are copied in and out (structured clone), as
// IndexedDB does, so a caller never aliases what is stored.

/**
 * @typedef {{code: string, message: string}} ErrorBody
 * @typedef {{id: string, serverHeads: string[], dirty: boolean, attention: ErrorBody | null,
 *            resend: boolean, summary: any, news: any}} State
 * @typedef {{id: string, bytes: Uint8Array, state?: State}} Stored
 * @typedef {{id: string, bytes: Uint8Array | null, state?: State | null}} Expectation
 *   what a record must still be for a commit to apply: its stored document
 *   (null: none held) and, when given, its state (null: none)
 * @typedef {{records?: Stored[], states?: State[], deletes?: string[], meta?: Record<string, unknown>,
 *            expect?: Expectation[]}} WriteSet
 */

/**
 * A commit found a record changed since the writer read it (another tab of
 * the app wrote it meanwhile): nothing was written; read again and redo.
 */
export class StoreConflict extends Error {
  /** @param {string} id */
  constructor(id) {
    super(`record ${id} changed on this phone while it was being saved (another tab?); nothing was written`);
    this.name = 'StoreError';
    this.code = 'conflict';
    this.id = id;
  }
}

/**
 * Whether a record as stored now meets an expectation.
 * @param {Expectation} expected
 * @param {Uint8Array | undefined} bytes  the stored document
 * @param {any} state  the stored state
 */
export function meetsExpectation(expected, bytes, state) {
  if (!sameBytes(expected.bytes ?? undefined, bytes)) return false;
  if (expected.state === undefined) return true;
  return stableJson(expected.state ?? emptyState(expected.id)) === stableJson(state ?? emptyState(expected.id));
}

/**
 * @param {Uint8Array | undefined} a
 * @param {Uint8Array | undefined} b
 */
function sameBytes(a, b) {
  if (!a || !b) return !a && !b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** JSON with sorted keys (a stored state comes back with its keys in any order). @param {unknown} v */
function stableJson(v) {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
  );
}

/** The state of a record nothing is known about yet. */
export function emptyState(/** @type {string} */ id) {
  return { id, serverHeads: [], dirty: false, attention: null, resend: false, summary: null, news: null };
}

export class MemoryStore {
  constructor() {
    /** @type {Map<string, Uint8Array>} */
    this.docs = new Map();
    /** @type {Map<string, State>} */
    this.states = new Map();
    /** @type {Map<string, unknown>} */
    this.meta = new Map();
    /** How many commits were applied (tests count writes with it). */
    this.commits = 0;
  }

  /** @param {string} key */
  async getMeta(key) {
    return this.meta.has(key) ? structuredClone(this.meta.get(key)) : undefined;
  }

  /**
   * @param {string} id
   * @returns {Promise<Stored | undefined>}
   */
  async getRecord(id) {
    const bytes = this.docs.get(id);
    if (bytes === undefined) return undefined;
    const state = this.states.get(id);
    return { id, bytes: bytes.slice(), state: state ? structuredClone(state) : emptyState(id) };
  }

  /**
   * Several records at once (those not held are left out).
   * @param {string[]} ids
   * @returns {Promise<Map<string, Stored>>}
   */
  async getRecords(ids) {
    const out = new Map();
    for (const id of ids) {
      const r = await this.getRecord(id);
      if (r) out.set(id, r);
    }
    return out;
  }

  /**
   * @param {string} id
   * @returns {Promise<State | undefined>}
   */
  async getState(id) {
    const state = this.states.get(id);
    return state ? structuredClone(state) : undefined;
  }

  /** @returns {Promise<Map<string, State>>} */
  async getStates() {
    const out = new Map();
    for (const [id, state] of this.states) out.set(id, structuredClone(state));
    return out;
  }

  /** @returns {Promise<string[]>} */
  async dirtyIds() {
    const out = [];
    for (const [id, state] of this.states) if (state.dirty) out.push(id);
    return out.sort();
  }

  /** @returns {Promise<string[]>} ids of every record whose document is held */
  async ids() {
    return [...this.docs.keys()].sort();
  }

  /**
   * Applies every write at once (all or nothing); with `expect`, only when
   * each named record is still as expected, else throws StoreConflict.
   * @param {WriteSet} writes
   */
  async commit(writes) {
    for (const expected of writes.expect ?? []) {
      if (!meetsExpectation(expected, this.docs.get(expected.id), this.states.get(expected.id))) throw new StoreConflict(expected.id);
    }
    // Copy first: a value that cannot be cloned fails the whole commit
    // before anything is changed.
    const records = (writes.records ?? []).map((r) => ({ id: r.id, bytes: toBytes(r.bytes), state: r.state ? structuredClone(r.state) : undefined }));
    const states = (writes.states ?? []).map((s) => structuredClone(s));
    const meta = Object.entries(writes.meta ?? {}).map(([k, v]) => [k, v === undefined ? undefined : structuredClone(v)]);
    for (const id of writes.deletes ?? []) {
      this.docs.delete(id);
      this.states.delete(id);
    }
    for (const r of records) {
      this.docs.set(r.id, r.bytes);
      if (r.state) this.states.set(r.id, { ...r.state, id: r.id });
    }
    for (const s of states) this.states.set(s.id, s);
    for (const [k, v] of meta) {
      if (v === undefined) this.meta.delete(/** @type {string} */ (k));
      else this.meta.set(/** @type {string} */ (k), v);
    }
    this.commits++;
  }

  /** Deletes everything. */
  async erase() {
    this.docs.clear();
    this.states.clear();
    this.meta.clear();
  }

  async close() {}
}

/** @param {Uint8Array} b */
function toBytes(b) {
  if (!(b instanceof Uint8Array)) throw new TypeError('record bytes must be a Uint8Array');
  return new Uint8Array(b);
}
