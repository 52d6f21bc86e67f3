// A Store in IndexedDB: database `fengqiao-field`, object stores `docs`
// (id → Automerge bytes), `states` (id → sync state and summary) and
// `meta` (key → value). Every `commit` is ONE readwrite transaction over
// all three stores and resolves only when the transaction completes, so
// a response's records and its cursor are durable together or not at all.
import { StoreConflict, emptyState, meetsExpectation } from './memory.js';

/** The database name. */
export const DB_NAME = 'fengqiao-field';
/** The schema version of the database. */
export const DB_VERSION = 1;

const DOCS = 'docs';
const STATES = 'states';
const META = 'meta';
const ALL = [DOCS, STATES, META];

/** Why the store failed. */
export class StoreError extends Error {
  /**
   * @param {string} code 'storage' | 'storage_full' | 'blocked' | 'unavailable' | 'conflict' | 'erased'
   * @param {string} message
   * @param {unknown} [cause]
   */
  constructor(code, message, cause) {
    super(message, { cause });
    this.name = 'StoreError';
    this.code = code;
  }
}

/**
 * The error of a failed transaction: a full phone (the browser's quota) is
 * 'storage_full', so the app can say so; anything else 'storage'.
 * @param {DOMException | null} error
 * @param {string} what
 */
function failure(error, what) {
  if (error?.name === 'QuotaExceededError') {
    return new StoreError('storage_full', `the phone's storage is full; nothing was saved (${error.message})`, error);
  }
  return new StoreError('storage', `the phone's storage ${what}: ${error?.message ?? 'unknown error'}`, error);
}

/**
 * Opens (creating or upgrading) the database.
 * @param {{name?: string, indexedDB?: IDBFactory, version?: number}} [options]
 * @returns {Promise<IdbStore>}
 */
export async function openIdbStore(options = {}) {
  const store = new IdbStore(options);
  await store.open();
  return store;
}

/**
 * Upgrades from any older version without dropping anything: each version
 * only adds what it introduced.
 * @param {IDBDatabase} db
 * @param {IDBTransaction} tx
 * @param {number} oldVersion
 */
export function upgrade(db, tx, oldVersion) {
  void oldVersion;
  void tx;
  // Version 1: the three stores. Each is created only when missing, so an
  // upgrade from any version (or over a half-made database) keeps what is
  // there. Later versions add stores or indexes here, never delete any.
  if (!db.objectStoreNames.contains(DOCS)) db.createObjectStore(DOCS, { keyPath: 'id' });
  if (!db.objectStoreNames.contains(STATES)) db.createObjectStore(STATES, { keyPath: 'id' });
  if (!db.objectStoreNames.contains(META)) db.createObjectStore(META);
}

export class IdbStore {
  /** @param {{name?: string, indexedDB?: IDBFactory, version?: number}} [options] */
  constructor(options = {}) {
    this.name = options.name ?? DB_NAME;
    /** The database version to open (tests open a later one to check upgrades). */
    this.version = options.version ?? DB_VERSION;
    /** @type {IDBFactory} */
    this.factory = options.indexedDB ?? globalThis.indexedDB;
    if (!this.factory) throw new StoreError('unavailable', 'IndexedDB is not available here (private mode, or an old WebView)');
    /** @type {IDBDatabase | null} */
    this.db = null;
    /** @type {Promise<IDBDatabase> | null} */
    this.opening = null;
    /** Closed because another tab erased or upgraded the database. */
    this.gone = false;
  }

  /** @returns {Promise<IDBDatabase>} */
  open() {
    if (this.gone) {
      return Promise.reject(new StoreError('erased', 'the app was signed out, erased or updated in another tab; reload this page'));
    }
    if (this.db) return Promise.resolve(this.db);
    if (this.opening) return this.opening;
    this.opening = new Promise((resolve, reject) => {
      const request = this.factory.open(this.name, this.version);
      request.onupgradeneeded = (event) => {
        const tx = /** @type {IDBTransaction} */ (request.transaction);
        upgrade(request.result, tx, event.oldVersion);
      };
      request.onsuccess = () => {
        const db = request.result;
        // Another tab upgrading or erasing the database: let it.
        db.onversionchange = () => {
          db.close();
          if (this.db === db) {
            this.db = null;
            // Erased or upgraded by another tab: opening again would make a
            // new, empty database and write this tab's leftovers into it
            // (records, a cursor) with no identity. This tab must reload.
            this.gone = true;
          }
        };
        this.db = db;
        resolve(db);
      };
      request.onerror = () => reject(new StoreError('storage', `the phone's storage could not be opened: ${request.error?.message}`, request.error));
      request.onblocked = () => reject(new StoreError('blocked', 'the app is open in another tab with an older version; close it and reload'));
    }).finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  /**
   * Runs `fn` in one transaction over `stores`; resolves with what `fn`
   * produced once the transaction completes.
   * @template T
   * @param {string[]} stores
   * @param {IDBTransactionMode} mode
   * @param {(tx: IDBTransaction) => T} fn
   * @returns {Promise<T>}
   */
  async run(stores, mode, fn) {
    const db = await this.open();
    return new Promise((resolve, reject) => {
      let tx;
      try {
        tx = db.transaction(stores, mode, mode === 'readwrite' ? { durability: 'strict' } : undefined);
      } catch (e) {
        reject(new StoreError('storage', `the phone's storage refused a transaction: ${e instanceof Error ? e.message : e}`, e));
        return;
      }
      /** @type {T} */
      let result;
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(failure(tx.error, 'failed'));
      tx.onabort = () => reject(failure(tx.error, 'gave up a write'));
      try {
        result = fn(tx);
      } catch (e) {
        tx.abort();
        reject(e);
      }
    });
  }

  /** @param {string} key */
  async getMeta(key) {
    /** @type {{value: unknown}} */
    const out = { value: undefined };
    await this.run([META], 'readonly', (tx) => {
      const r = tx.objectStore(META).get(key);
      r.onsuccess = () => (out.value = r.result);
    });
    return out.value;
  }

  /** @param {string} id */
  async getRecord(id) {
    /** @type {{doc?: any, state?: any}} */
    const out = {};
    await this.run([DOCS, STATES], 'readonly', (tx) => {
      const d = tx.objectStore(DOCS).get(id);
      d.onsuccess = () => (out.doc = d.result);
      const s = tx.objectStore(STATES).get(id);
      s.onsuccess = () => (out.state = s.result);
    });
    if (!out.doc) return undefined;
    return { id, bytes: out.doc.bytes, state: out.state ?? emptyState(id) };
  }

  /**
   * Several records in one transaction (those not held are left out).
   * @param {string[]} ids
   * @returns {Promise<Map<string, {id: string, bytes: Uint8Array, state: any}>>}
   */
  async getRecords(ids) {
    /** @type {Map<string, {doc?: any, state?: any}>} */
    const found = new Map();
    await this.run([DOCS, STATES], 'readonly', (tx) => {
      const docs = tx.objectStore(DOCS);
      const states = tx.objectStore(STATES);
      for (const id of ids) {
        const entry = {};
        found.set(id, entry);
        const d = docs.get(id);
        d.onsuccess = () => (entry.doc = d.result);
        const s = states.get(id);
        s.onsuccess = () => (entry.state = s.result);
      }
    });
    const out = new Map();
    for (const [id, entry] of found) {
      if (entry.doc) out.set(id, { id, bytes: entry.doc.bytes, state: entry.state ?? emptyState(id) });
    }
    return out;
  }

  /** @param {string} id */
  async getState(id) {
    /** @type {{state?: any}} */
    const out = {};
    await this.run([STATES], 'readonly', (tx) => {
      const s = tx.objectStore(STATES).get(id);
      s.onsuccess = () => (out.state = s.result);
    });
    return out.state;
  }

  /** @returns {Promise<Map<string, any>>} */
  async getStates() {
    /** @type {any[]} */
    let all = [];
    await this.run([STATES], 'readonly', (tx) => {
      const r = tx.objectStore(STATES).getAll();
      r.onsuccess = () => (all = r.result);
    });
    return new Map(all.map((s) => [s.id, s]));
  }

  /** @returns {Promise<string[]>} */
  async dirtyIds() {
    const states = await this.getStates();
    return [...states.values()].filter((s) => s.dirty).map((s) => s.id).sort();
  }

  /** @returns {Promise<string[]>} */
  async ids() {
    /** @type {IDBValidKey[]} */
    let keys = [];
    await this.run([DOCS], 'readonly', (tx) => {
      const r = tx.objectStore(DOCS).getAllKeys();
      r.onsuccess = () => (keys = r.result);
    });
    return keys.map(String).sort();
  }

  /**
   * Applies every write in one readwrite transaction over every store.
   * With `writes.expect`, the named records are read first in the same
   * transaction and nothing is written unless each is still as expected
   * (another tab may have written it since it was read): then StoreConflict.
   * @param {import('./memory.js').WriteSet} writes
   */
  async commit(writes) {
    const expect = writes.expect ?? [];
    /** @type {StoreConflict | null} */
    let conflict = null;
    try {
      await this.run(ALL, 'readwrite', (tx) => {
        const docs = tx.objectStore(DOCS);
        const states = tx.objectStore(STATES);
        const meta = tx.objectStore(META);
        for (const r of writes.records ?? []) {
          if (!(r.bytes instanceof Uint8Array)) throw new TypeError('record bytes must be a Uint8Array');
        }
        const write = () => {
          for (const id of writes.deletes ?? []) {
            docs.delete(id);
            states.delete(id);
          }
          for (const r of writes.records ?? []) {
            // A copy in its own buffer: a view would store its whole buffer.
            docs.put({ id: r.id, bytes: new Uint8Array(r.bytes) });
            if (r.state) states.put({ ...r.state, id: r.id });
          }
          for (const s of writes.states ?? []) states.put(s);
          for (const [key, value] of Object.entries(writes.meta ?? {})) {
            if (value === undefined) meta.delete(key);
            else meta.put(value, key);
          }
        };
        if (expect.length === 0) {
          write();
          return;
        }
        // Read what is stored now, inside this transaction, then write or give up.
        let left = expect.length * 2;
        /** @type {Map<string, {doc?: any, state?: any}>} */
        const found = new Map();
        const check = () => {
          if (--left > 0) return;
          for (const expected of expect) {
            const entry = found.get(expected.id) ?? {};
            if (!meetsExpectation(expected, entry.doc?.bytes, entry.state)) {
              conflict = new StoreConflict(expected.id);
              tx.abort();
              return;
            }
          }
          write();
        };
        for (const expected of expect) {
          const entry = {};
          found.set(expected.id, entry);
          const d = docs.get(expected.id);
          d.onsuccess = () => {
            entry.doc = d.result;
            check();
          };
          const s = states.get(expected.id);
          s.onsuccess = () => {
            entry.state = s.result;
            check();
          };
        }
      });
    } catch (e) {
      if (conflict) throw conflict;
      throw e;
    }
  }

  /** Deletes the whole database ("sign out and erase"). */
  async erase() {
    this.close();
    await new Promise((resolve, reject) => {
      const request = this.factory.deleteDatabase(this.name);
      request.onsuccess = () => {
        // Erased here: this tab may set up afresh.
        this.gone = false;
        resolve(undefined);
      };
      request.onerror = () => reject(new StoreError('storage', `the phone's storage could not be erased: ${request.error?.message}`, request.error));
      request.onblocked = () => {
        // Other tabs are told (versionchange) and close; success follows.
      };
    });
  }

  /** Another tab erased the database on purpose (and said so): this tab may open it afresh. */
  allowReopen() {
    this.gone = false;
  }

  close() {
    this.db?.close();
    this.db = null;
  }
}
