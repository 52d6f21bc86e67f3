// A Store that lives in memory: for tests, tools and shells that keep
// records elsewhere. Values are copied in and out (structured clone), as
// IndexedDB does, so a caller never aliases what is stored.

/**
 * @typedef {{code: string, message: string}} ErrorBody
 * @typedef {{id: string, serverHeads: string[], dirty: boolean, attention: ErrorBody | null,
 *            resend: boolean, summary: any, news: any}} State
 * @typedef {{id: string, bytes: Uint8Array, state?: State}} Stored
 * @typedef {{records?: Stored[], states?: State[], deletes?: string[], meta?: Record<string, unknown>}} WriteSet
 */

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
   * Applies every write at once (all or nothing).
   * @param {WriteSet} writes
   */
  async commit(writes) {
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
