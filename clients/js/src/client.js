// FieldClient: the field app's one entry point. It holds the store, the
// sync machine and the HTTP transport, and offers what a cadre does:
// set up, list and find records, create and edit them offline, sync.
//
// Everything outside (fetch, the clock, timers, randomness, the network
// events) is injectable, so the whole client runs under Node's test runner.
import { A } from './automerge.js';
import { actorFor, newDocumentId } from './ids.js';
import { emptyState } from './store/memory.js';
import { SyncError, SyncMachine } from './sync.js';
import { compressBody, decodeErrorBody, decodeResponse, encodeRequest, WireError } from './wire.js';

/** @typedef {import('./store/memory.js').State} State */
/** @typedef {import('./store/memory.js').WriteSet} WriteSet */
/** @typedef {import('./wire.js').ErrorBody} ErrorBody */

const DAY = 86_400_000;
/** How often a write is redone when another tab wrote the same record meanwhile. */
const CONFLICT_TRIES = 8;

/** @param {unknown} e  whether the store refused a write because the record changed since it was read */
function isConflict(e) {
  return !!e && typeof e === 'object' && /** @type {any} */ (e).code === 'conflict' && /** @type {any} */ (e).name === 'StoreError';
}

/** The domain edits a client offers as `client.<name>(id, ...args)`. */
export const EDITS = Object.freeze([
  'addEvent',
  'setRisk',
  'setTitle',
  'setDescription',
  'setCategory',
  'addParty',
  'removeParty',
  'assign',
  'unassign',
  'setNotes',
  'setTopics',
  'setSentiment',
  'scheduleFollowUp',
  'markFollowUpDone',
  'markNotDuplicate',
  'setDuplicateOf',
  'linkRelated',
  'unlinkRelated',
  'linkDispute',
]);

/** Setting up failed. */
export class SetupError extends Error {
  /**
   * @param {'bad_setup' | 'already_set_up' | 'unauthorized' | 'offline' | 'server_error' | 'not_a_device'} code
   * @param {string} message
   * @param {unknown} [cause]
   */
  constructor(code, message, cause) {
    super(message, { cause });
    this.name = 'SetupError';
    this.code = code;
  }
}

/** An edit was refused before it was saved. */
export class ValidationError extends Error {
  /** @param {{field: string, code: string, message: string}[]} errors */
  constructor(errors) {
    super(`the record was not saved: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`);
    this.name = 'ValidationError';
    this.code = 'invalid_record';
    this.errors = errors;
  }
}

/** Another failure of the client ('not_set_up', 'signed_out', 'not_found', 'read_only'). */
export class ClientError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = 'ClientError';
    this.code = code;
  }
}

/** Texts of error codes in the cadre's language: [zh, en]. */
const ERROR_TEXT = {
  bad_request: ['服务器无法理解这条记录', 'the server could not read this record'],
  unauthorized: ['本手机已被管理员注销', 'this phone was signed out by the administrator'],
  forbidden: ['本设备无权修改这条记录', 'this device may not change this record'],
  not_found: ['服务器上没有这条记录（不在本设备的范围内），已保留在本机', 'the server holds no such record for this device; it is kept on this phone'],
  too_large: ['记录太大，服务器不接受', 'the record is larger than the server allows'],
  invalid_record: ['记录不符合规定格式', 'the record breaks the record rules'],
  unsupported_version: ['请更新应用', 'update the app'],
  rate_limited: ['同步太频繁，稍后自动重试', 'too many syncs; retrying a little later'],
  unavailable: ['服务器暂时不可用，稍后自动重试', 'the server is unavailable; retrying later'],
  conflict: ['与服务器上的数据冲突', 'this conflicts with what the server holds'],
  internal: ['服务器出错，稍后自动重试', 'the server failed; retrying later'],
  removed: ['管理员已删除这条记录', 'an administrator removed this record'],
  network: ['无法连接服务器，请检查信号', 'cannot reach the server; check the signal'],
  timeout: ['服务器没有及时响应，稍后自动重试', 'the server did not answer in time; retrying later'],
  bad_response: ['服务器的回复无法读取，稍后自动重试', 'the server’s answer could not be read; retrying later'],
  bad_server_data: ['服务器发来的记录已损坏，稍后自动重试', 'the server sent a damaged record; retrying later'],
  storage: ['手机存储出错', 'the phone’s storage failed'],
  storage_full: ['手机存储空间已满，未能保存；请清理空间后重试', 'the phone’s storage is full; nothing was saved — free some space and try again'],
  too_many_rounds: ['同步未完成，请再同步一次', 'sync did not finish; sync again'],
};

/**
 * An error in the cadre's language, keeping the server's own message.
 * @param {{code: string, message?: string}} error
 * @param {'zh' | 'en'} [lang]
 * @returns {string}
 */
export function errorText(error, lang = 'zh') {
  const known = /** @type {Record<string, string[]>} */ (ERROR_TEXT)[error.code];
  const text = known ? known[lang === 'en' ? 1 : 0] : lang === 'en' ? `error (${error.code})` : `出错（${error.code}）`;
  return error.message ? `${text} — ${error.message}` : text;
}

/**
 * Parses set-up text: the link `…/field#setup=<base64url(JSON)>`, the
 * base64url part, or the JSON itself.
 * @param {string} text
 * @returns {{server: string, token: string, device: string}}
 */
export function parseSetup(text) {
  if (typeof text !== 'string' || !text.trim()) throw new SetupError('bad_setup', 'the set-up text is empty');
  let t = text.trim();
  const at = t.indexOf('#setup=');
  if (at >= 0) t = t.slice(at + '#setup='.length);
  else if (t.startsWith('setup=')) t = t.slice('setup='.length);
  let json = t;
  if (!t.startsWith('{')) {
    // Pasted codes come wrapped over lines, with spaces or invisible
    // characters inside, and with words after them: the code is the run of
    // base64url characters once those are taken out.
    let code = t;
    try {
      code = decodeURIComponent(t);
    } catch {
      // not %-encoded
    }
    code = code.replace(/[\s\u200b-\u200d\u2060\ufeff]+/g, '');
    code = /^[A-Za-z0-9_-]+={0,2}/.exec(code)?.[0] ?? code;
    try {
      json = new TextDecoder('utf-8', { fatal: true }).decode(base64urlDecode(code));
    } catch {
      throw new SetupError('bad_setup', 'the set-up text is not a set-up link, code or JSON');
    }
  }
  /** @type {any} */
  let value;
  try {
    value = JSON.parse(json);
  } catch {
    throw new SetupError('bad_setup', 'the set-up code is damaged (not JSON); scan or copy it again');
  }
  if (!value || typeof value !== 'object') throw new SetupError('bad_setup', 'the set-up code holds no set-up');
  const { server, token, device } = value;
  if (typeof server !== 'string' || !/^https?:\/\/[^\s/]+/i.test(server)) throw new SetupError('bad_setup', 'the set-up code has no server address');
  if (typeof token !== 'string' || !token.trim()) throw new SetupError('bad_setup', 'the set-up code has no token');
  // A token is visible ASCII: anything else cannot go in a header, and is a damaged code.
  if (!/^[\x21-\x7e]+$/.test(token.trim())) throw new SetupError('bad_setup', 'the set-up code has a damaged token; scan or copy it again');
  if (typeof device !== 'string' || !/^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(device)) {
    throw new SetupError('bad_setup', 'the set-up code has no valid device id');
  }
  return { server: server.replace(/\/+$/, ''), token: token.trim(), device: device.toLowerCase() };
}

/** @param {string} text */
function base64urlDecode(text) {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(text)) throw new Error('not base64url');
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
  const bin = atob(padded);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** @param {Uint8Array} bytes */
function base64(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/**
 * The sync state of a record for list views.
 * @param {State} state
 * @returns {'unsent' | 'synced' | 'attention'}
 */
export function syncOf(state) {
  if (state.attention) return 'attention';
  if (state.dirty || state.serverHeads.length === 0) return 'unsent';
  return 'synced';
}

/**
 * @typedef {object} Identity
 * @property {string} device
 * @property {string} person
 * @property {string | null} personName
 * @property {string} [label]
 * @property {string} role
 * @property {string} scope
 * @property {boolean} write
 * @property {string} server
 */

/**
 * @typedef {object} FieldClientOptions
 * @property {any} store                 a Store (MemoryStore, IdbStore or your own)
 * @property {string | null} [baseUrl]   where /v1/* is; default location.origin in a browser, else the set-up's server
 * @property {typeof fetch} [fetch]
 * @property {() => number} [now]
 * @property {(fn: () => void, ms: number) => any} [setTimeout]
 * @property {(handle: any) => void} [clearTimeout]
 * @property {boolean} [autoSync]        sync at start, on reconnecting and every minute (true)
 * @property {boolean} [online]          whether the network is up at start (navigator.onLine)
 * @property {boolean} [listenNetwork]   follow the window's online/offline events (true when there is a window)
 * @property {number} [requestTimeoutMs] give up an exchange after this long (60 s)
 * @property {() => number} [random]     jitter source for pauses
 * @property {import('./sync.js').SyncOptions} [sync]  budgets and pauses
 * @property {any} [records]             the records module (default: ./record/index.js)
 * @property {number} [overdueDays]      default from schema.json, else 30
 * @property {boolean} [broadcast]       tell the app's other tabs on the same IndexedDB what changed
 *                                       (BroadcastChannel; on by default for a named store)
 */

/**
 * @typedef {object} SyncReport
 * @property {number} rounds
 * @property {number} acknowledged
 * @property {number} received
 * @property {number} merged
 * @property {number} rejected
 * @property {number} purged
 * @property {boolean} reset
 * @property {number} bytesUp    request bytes as sent
 * @property {number} bytesDown  response bytes as sent (Content-Length), else as read
 */

export class FieldClient {
  /**
   * Opens a client over a store.
   * @param {FieldClientOptions} options
   * @returns {Promise<FieldClient>}
   */
  static async open(options) {
    const records = options.records ?? (await defaultRecords());
    const client = new FieldClient(options, records);
    await client.#load();
    return client;
  }

  /** @type {Identity | null} */
  identity = null;
  /** @type {string | null} */
  #token = null;
  /** @type {string | null} */
  #actor = null;
  /** @type {Map<string, State>} states of every record, kept in step with the store */
  #states = new Map();
  /** @type {Set<(event: {type: string, ids?: string[]}) => void>} */
  #listeners = new Set();
  /** @type {Promise<unknown>} */
  #queue = Promise.resolve();
  /** @type {any} */
  #timer = null;
  /** @type {AbortController | null} */
  #abort = null;
  /** @type {{resolve: (r: SyncReport) => void, reject: (e: unknown) => void}[]} */
  #waiters = [];
  /** @type {SyncReport} */
  #report = newReport();
  /** @type {{reason: string, kept: number} | null} */
  #signedOut = null;
  #closed = false;
  /** @type {BroadcastChannel | null} the app's other tabs on the same store */
  #channel = null;
  /** Bumped when the store is erased: a response in flight then writes nothing. */
  #generation = 0;
  #peopleFetchedAt = -Infinity;
  /** A response purged records or reset: the device's scope may have changed. */
  #identityStale = false;
  /** @type {(() => void)[]} */
  #unlisten = [];

  /**
   * Use FieldClient.open.
   * @param {FieldClientOptions} options
   * @param {any} records
   */
  constructor(options, records) {
    this.store = options.store;
    this.records = records;
    this.baseUrl = options.baseUrl !== undefined ? options.baseUrl : (globalThis.location?.origin ?? null);
    // Looked up when used: a shell may install its fetch after the client opens.
    this.fetch = options.fetch ?? ((/** @type {any} */ input, /** @type {any} */ init) => globalThis.fetch(input, init));
    this.now = options.now ?? (() => Date.now());
    this.setTimeout = options.setTimeout ?? ((/** @type {() => void} */ fn, /** @type {number} */ ms) => globalThis.setTimeout(fn, ms));
    this.clearTimeout = options.clearTimeout ?? ((/** @type {any} */ handle) => globalThis.clearTimeout(handle));
    this.autoSync = options.autoSync ?? true;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
    this.overdueDays = options.overdueDays ?? records?.schema?.overdueDays ?? 30;
    this.machine = new SyncMachine({
      ...options.sync,
      random: options.random ?? options.sync?.random,
      summarize: (doc) => records.summarize(doc),
      describeMerge: records.describeMerge ? (before, after, person) => records.describeMerge(before, after, person) : undefined,
    });
    const navigatorOnline = globalThis.navigator && typeof globalThis.navigator.onLine === 'boolean' ? globalThis.navigator.onLine : true;
    this.machine.online = options.online ?? navigatorOnline;
    const listen = options.listenNetwork ?? (typeof globalThis.window !== 'undefined' && typeof globalThis.addEventListener === 'function');
    if (listen) {
      const on = () => this.setOnline(true);
      const off = () => this.setOnline(false);
      globalThis.addEventListener('online', on);
      globalThis.addEventListener('offline', off);
      this.#unlisten.push(() => globalThis.removeEventListener('online', on), () => globalThis.removeEventListener('offline', off));
    }
    const broadcast = options.broadcast ?? (typeof this.store.name === 'string' && typeof globalThis.BroadcastChannel === 'function');
    if (broadcast) {
      const channel = new BroadcastChannel(`fengqiao-field:${this.store.name ?? 'store'}`);
      channel.onmessage = (event) => void this.#heard(event.data);
      // In Node a channel would keep the process alive.
      /** @type {any} */ (channel).unref?.();
      this.#channel = channel;
      this.#unlisten.push(() => channel.close());
    }
    for (const name of EDITS) {
      /** @type {any} */ (this)[name] = (/** @type {string} */ id, /** @type {any[]} */ ...args) =>
        this.edit(id, (doc, author) => {
          const fn = this.records[name];
          if (typeof fn !== 'function') throw new ClientError('unsupported', `the records module has no ${name}`);
          return fn(doc, author, ...args);
        });
    }
  }

  async #load() {
    this.identity = (await this.store.getMeta('identity')) ?? null;
    this.#token = (await this.store.getMeta('token')) ?? null;
    this.#actor = (await this.store.getMeta('actor')) ?? null;
    this.#signedOut = (await this.store.getMeta('signedOut')) ?? null;
    this.machine.lastSync = (await this.store.getMeta('lastSync')) ?? null;
    this.machine.person = this.identity?.person ?? null;
    this.#states = await this.store.getStates();
    if (this.#signedOut || !this.#token) this.machine.signedOut = true;
    if (this.identity && this.#token && !this.#signedOut && this.autoSync) {
      this.#follow(this.machine.start(this.now(), this.machine.online));
    }
  }

  // ------------------------------------------------------------------ state

  /** What the sync is doing, for the status bar. */
  get status() {
    return {
      online: this.machine.online,
      // Not while pausing before a retry: then `error` says why.
      syncing: this.machine.inFlight || (this.machine.runActive && this.machine.pending && this.machine.retryAt === null),
      lastSync: this.machine.lastSync,
      progress: this.machine.progress(),
      error: this.machine.lastError ? { code: this.machine.lastError.code, message: this.machine.lastError.message } : null,
      signedOut: this.#signedOut,
    };
  }

  /**
   * Calls `fn` on any change of records or status.
   * @param {(event: {type: string, ids?: string[]}) => void} fn
   * @returns {() => void} unsubscribe
   */
  subscribe(fn) {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** @param {{type: string, ids?: string[]}} event */
  #notify(event) {
    for (const fn of [...this.#listeners]) {
      try {
        fn(event);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  /**
   * Runs `fn` alone: local edits and applying responses never interleave.
   * @template T
   * @param {() => Promise<T>} fn
   * @returns {Promise<T>}
   */
  #exclusive(fn) {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Commits writes and keeps the state cache in step.
   * @param {WriteSet} writes
   */
  async #commit(writes) {
    await this.store.commit(writes);
    const ids = new Set(writes.deletes ?? []);
    for (const id of writes.deletes ?? []) this.#states.delete(id);
    for (const r of writes.records ?? []) {
      if (r.state) this.#states.set(r.id, { ...r.state, id: r.id });
      ids.add(r.id);
    }
    for (const s of writes.states ?? []) {
      this.#states.set(s.id, s);
      ids.add(s.id);
    }
    const meta = Object.keys(writes.meta ?? {}).some((k) => k !== 'cursor' && k !== 'lastSync' && k !== 'people' && k !== 'places');
    this.#tell({ ids: [...ids], meta });
  }

  /**
   * Tells the app's other tabs on this store what changed.
   * @param {{ids?: string[], meta?: boolean, erased?: boolean}} message
   */
  #tell(message) {
    if (!this.#channel) return;
    try {
      this.#channel.postMessage(message);
    } catch {
      // a closed channel: nobody to tell
    }
  }

  /**
   * Another tab changed the store: refresh what it names.
   * @param {{ids?: string[], meta?: boolean, erased?: boolean}} message
   */
  async #heard(message) {
    if (this.#closed || !message || typeof message !== 'object') return;
    if (message.erased) {
      // Another tab signed out and erased the store: forget everything here
      // too (the store refused writes from the moment it was erased, so
      // nothing of this tab leaked into a new, empty database).
      this.#stopTimer();
      this.#abort?.abort();
      await this.#exclusive(async () => {
        this.#generation++;
        this.store.allowReopen?.();
        this.#states = new Map();
        this.identity = null;
        this.#token = null;
        this.#actor = null;
        this.#signedOut = null;
        this.machine.person = null;
        this.machine.signedOut = true;
      });
      this.#rejectWaiters(new ClientError('signed_out', 'this phone was signed out in another tab'));
      this.#notify({ type: 'identity' });
      return;
    }
    if (message.meta) {
      await this.#exclusive(async () => {
        this.#states = await this.store.getStates();
        this.identity = (await this.store.getMeta('identity')) ?? null;
        this.#token = (await this.store.getMeta('token')) ?? null;
        this.#actor = (await this.store.getMeta('actor')) ?? null;
        this.#signedOut = (await this.store.getMeta('signedOut')) ?? null;
        this.machine.person = this.identity?.person ?? null;
        this.machine.signedOut = !this.#token || !!this.#signedOut;
      });
      this.#notify({ type: 'identity' });
      if (this.autoSync && this.#token && !this.#signedOut) this.#follow(this.machine.start(this.now(), this.machine.online));
      return;
    }
    const ids = Array.isArray(message.ids) ? message.ids.filter((id) => typeof id === 'string') : [];
    if (ids.length === 0) return;
    await this.#exclusive(async () => {
      const fresh = await this.#getRecords(ids);
      for (const id of ids) {
        const state = fresh.get(id)?.state ?? (typeof this.store.getState === 'function' ? await this.store.getState(id) : undefined);
        if (state) this.#states.set(id, { ...state, id });
        else this.#states.delete(id);
      }
    });
    this.#notify({ type: 'records', ids });
  }

  // ------------------------------------------------------------------ setup

  /**
   * Sets the phone up from set-up text (link, base64url or JSON): asks the
   * server who the token belongs to (GET /v1/me) and stores the identity.
   * @param {string} text
   * @returns {Promise<Identity>}
   */
  async setup(text) {
    if (this.identity) {
      throw new SetupError('already_set_up', 'this phone already holds a device; sign out and erase first');
    }
    const payload = parseSetup(text);
    const base = this.baseUrl ?? payload.server;
    /** @type {{status: number, ok: boolean, body: Promise<any>}} */
    let response;
    try {
      response = await this.#timed(async (signal) => {
        const r = await this.fetch(`${base}/v1/me`, { headers: { Authorization: `Bearer ${payload.token}`, Accept: 'application/json' }, signal });
        // The body is read under the same timeout; a body that is not JSON is reported below.
        const body = r.ok ? await abortable(r.json(), signal).then((v) => ({ v }), (e) => ({ e })) : null;
        return { status: r.status, ok: r.ok, body: /** @type {any} */ (body) };
      });
    } catch (e) {
      throw new SetupError('offline', `the server could not be reached (${e instanceof Error ? e.message : e}); try again with a signal`, e);
    }
    if (response.status === 401) throw new SetupError('unauthorized', 'the server does not know this set-up code (revoked or replaced); ask for a new one');
    if (!response.ok) throw new SetupError('server_error', `the server answered ${response.status}`);
    /** @type {any} */
    const read = response.body;
    if ('e' in read) {
      const timedOut = read.e instanceof SyncError && read.e.code === 'timeout';
      throw new SetupError(timedOut ? 'offline' : 'server_error', timedOut ? `the server did not answer in time; try again with a signal` : 'the server’s answer could not be read', read.e);
    }
    /** @type {any} */
    const me = read.v;
    if (!me || typeof me.device !== 'string' || typeof me.person !== 'string') {
      throw new SetupError('not_a_device', 'this token belongs to no device (a development or admin token?)');
    }
    if (me.device.toLowerCase() !== payload.device) {
      throw new SetupError('bad_setup', 'the set-up code names another device than its token');
    }
    /** @type {Identity} */
    const identity = {
      device: me.device.toLowerCase(),
      person: me.person,
      personName: typeof me.personName === 'string' ? me.personName : null,
      label: typeof me.label === 'string' ? me.label : '',
      role: String(me.role ?? ''),
      scope: String(me.scope ?? ''),
      write: writesRecords(String(me.role ?? ''), me.write === true),
      server: payload.server,
    };
    const actor = actorFor(identity.device);
    await this.#exclusive(async () => {
      if (this.identity) throw new SetupError('already_set_up', 'this phone already holds a device; sign out and erase first');
      await this.#commit({ meta: { identity, token: payload.token, actor, signedOut: undefined } });
      this.identity = identity;
      this.#token = payload.token;
      this.#actor = actor;
      this.#signedOut = null;
    });
    this.machine.person = identity.person;
    this.machine.signedOut = false;
    this.machine.halted = false;
    this.#notify({ type: 'identity' });
    if (this.autoSync) this.#follow(this.machine.start(this.now(), this.machine.online));
    return identity;
  }

  /** Deletes everything on this phone: records, identity, token. */
  async signOutAndErase() {
    const wasOnline = this.machine.online;
    this.#stopTimer();
    this.#abort?.abort();
    await this.#exclusive(async () => {
      this.#generation++;
      await this.store.erase();
      this.#states = new Map();
      this.identity = null;
      this.#token = null;
      this.#actor = null;
      this.#signedOut = null;
    });
    this.machine = new SyncMachine({
      responseBudget: this.machine.responseBudget,
      uploadBudget: this.machine.uploadBudget,
      periodMs: this.machine.periodMs,
      firstBackoffMs: this.machine.firstBackoffMs,
      maxBackoffMs: this.machine.maxBackoffMs,
      maxRounds: this.machine.maxRounds,
      random: this.machine.random,
      summarize: this.machine.summarize,
      describeMerge: this.machine.describeMerge ?? undefined,
    });
    this.machine.online = wasOnline;
    this.machine.signedOut = true;
    this.#rejectWaiters(new ClientError('signed_out', 'this phone was signed out'));
    this.#tell({ erased: true });
    this.#notify({ type: 'identity' });
  }

  /**
   * The server refused the token: keep unsent records (exportable), erase
   * the rest, forget the token.
   * @param {string} reason
   */
  async #signedOutByServer(reason) {
    await this.#exclusive(async () => {
      const deletes = [];
      let kept = 0;
      this.#states = await this.store.getStates();
      for (const [id, state] of this.#states) {
        if (state.dirty || state.attention) kept++;
        else deletes.push(id);
      }
      const signedOut = { reason, kept };
      await this.#commit({ deletes, meta: { token: undefined, cursor: undefined, people: undefined, places: undefined, signedOut } });
      this.#token = null;
      this.#signedOut = signedOut;
    });
    this.#notify({ type: 'records' });
  }

  // ------------------------------------------------------------------ reads

  /**
   * My records (everything this phone holds), newest activity first.
   * @param {{search?: string, kind?: string, status?: string, category?: string, risk?: string,
   *          overdue?: boolean, needsFollowUp?: boolean, sync?: string}} [filter]
   */
  async list(filter = {}) {
    const needle = filter.search?.trim().toLowerCase() || null;
    const now = this.now();
    const out = [];
    for (const state of this.#states.values()) {
      const s = state.summary;
      if (!s) continue;
      if (filter.kind && s.kind !== filter.kind) continue;
      if (filter.status && (s.status ?? (s.kind === 'dispute' ? 'open' : null)) !== filter.status) continue;
      if (filter.category && s.category !== filter.category) continue;
      if (filter.risk && s.risk !== filter.risk) continue;
      if (filter.overdue && !this.#isOverdue(s, now)) continue;
      if (filter.needsFollowUp && !this.#followUpPending(s)) continue;
      const sync = syncOf(state);
      if (filter.sync && sync !== filter.sync) continue;
      if (needle) {
        const hit =
          String(s.title ?? '').toLowerCase().includes(needle) ||
          (s.partyNames ?? []).some((/** @type {string} */ p) => String(p).toLowerCase().includes(needle));
        if (!hit) continue;
      }
      out.push({ id: state.id, summary: s, sync, attention: state.attention, news: state.news });
    }
    out.sort((a, b) => (b.summary.lastActivity ?? 0) - (a.summary.lastActivity ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return out;
  }

  /**
   * What needs doing today.
   * @returns {Promise<{followUpsDue: any[], overdue: any[], assignedToMe: any[], attention: any[]}>}
   */
  async today() {
    const now = this.now();
    const end = new Date(now);
    end.setHours(23, 59, 59, 999);
    const person = this.identity?.person;
    const all = await this.list();
    return {
      followUpsDue: all
        .filter((r) => this.#followUpPending(r.summary) && r.summary.followUpDue != null && r.summary.followUpDue <= end.getTime())
        .sort((a, b) => a.summary.followUpDue - b.summary.followUpDue),
      overdue: all.filter((r) => this.#isOverdue(r.summary, now)).sort((a, b) => a.summary.createdAt - b.summary.createdAt),
      assignedToMe: all.filter((r) => r.summary.kind === 'dispute' && person && (r.summary.assignees ?? []).includes(person) && isOpen(r.summary)),
      attention: all.filter((r) => r.sync === 'attention'),
    };
  }

  /**
   * @param {any} s
   * @param {number} now
   */
  #isOverdue(s, now) {
    if (typeof this.records.isOverdue === 'function') return this.records.isOverdue(s, now, this.overdueDays);
    return s.kind === 'dispute' && isOpen(s) && s.createdAt < now - this.overdueDays * DAY;
  }

  /** @param {any} s */
  #followUpPending(s) {
    if (typeof this.records.followUpPending === 'function') return this.records.followUpPending(s);
    return isPendingFollowUp(s);
  }

  /**
   * One record, read whole; with `{history: true}` also its changes
   * (who — as an Automerge actor —, when, what), oldest first.
   * @param {string} id
   * @param {{history?: boolean}} [options]
   */
  async get(id, options = {}) {
    const stored = await this.store.getRecord(id);
    if (!stored) return undefined;
    const doc = A.load(stored.bytes);
    const state = stored.state ?? emptyState(id);
    let record = null;
    let readError = null;
    try {
      record = this.records.readRecord ? this.records.readRecord(doc) : null;
    } catch (e) {
      readError = { code: /** @type {any} */ (e)?.code ?? 'unreadable', message: e instanceof Error ? e.message : String(e) };
    }
    /** @type {{hash: string, actor: string, at: number, message: string | null}[] | undefined} */
    let history;
    if (options.history) {
      history = A.getAllChanges(doc).map((bytes) => {
        const change = A.decodeChange(bytes);
        return { hash: change.hash ?? '', actor: change.actor, at: change.time * 1000, message: change.message ?? null };
      });
    }
    return { id, record, readError, doc, summary: state.summary, sync: syncOf(state), attention: state.attention, news: state.news, history };
  }

  /**
   * Records in the same village with overlapping party names.
   * @param {{village?: string, category?: string | null, parties: {name: string}[], reportedAt?: number}} draft
   */
  async duplicatesFor(draft) {
    const village = draft.village ?? this.#defaultVillage();
    const summaries = [...this.#states.values()].map((s) => s.summary).filter(Boolean);
    const ids = this.records.possibleDuplicates({ reportedAt: this.now(), ...draft, village }, summaries) ?? [];
    return ids.map((/** @type {string} */ id) => ({ id, summary: this.#states.get(id)?.summary ?? null }));
  }

  /** Names of the people whose records this phone may see: id → name. */
  async people() {
    /** @type {Record<string, string>} */
    const cached = (await this.store.getMeta('people')) ?? {};
    const map = new Map(Object.entries(cached));
    if (this.identity?.personName && !map.has(this.identity.person)) map.set(this.identity.person, this.identity.personName);
    return map;
  }

  /** Names of the places of this phone's scope: village, town or district code → name. */
  async places() {
    /** @type {Record<string, string>} */
    const cached = (await this.store.getMeta('places')) ?? {};
    return new Map(Object.entries(cached));
  }

  /** Refreshes the names of people (GET /v1/people) and places (GET /v1/places); best effort. */
  async refreshPeople() {
    if (!this.#token) return;
    this.#peopleFetchedAt = this.now();
    await this.refreshIdentity();
    await this.#refreshPlaces();
    try {
      const body = await this.#timed(async (signal) => {
        const response = await this.fetch(`${this.#base()}/v1/people`, { headers: { Authorization: `Bearer ${this.#token}`, Accept: 'application/json' }, signal });
        return response.ok ? abortable(response.json(), signal) : null;
      });
      if (!body || !Array.isArray(body.people)) return;
      /** @type {Record<string, string>} */
      const people = {};
      for (const p of body.people) if (p && typeof p.id === 'string' && typeof p.name === 'string') people[p.id] = p.name;
      await this.store.commit({ meta: { people } });
      this.#notify({ type: 'people' });
    } catch {
      // Names are a nicety: the next sync tries again.
    }
  }

  /**
   * Asks the server again who this device is (GET /v1/me) and keeps what
   * an admin changed since set-up: its role, its scope (a reassigned phone
   * then files new records in its new village), whether it writes, the
   * holder's name. Best effort: offline, the stored identity stays.
   */
  async refreshIdentity() {
    const token = this.#token;
    const had = this.identity;
    if (!token || !had) return;
    try {
      const me = await this.#timed(async (signal) => {
        const response = await this.fetch(`${this.#base()}/v1/me`, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' }, signal });
        return response.ok ? abortable(response.json(), signal) : null;
      });
      if (!me || typeof me.device !== 'string' || me.device.toLowerCase() !== had.device) return;
      const role = typeof me.role === 'string' ? me.role : had.role;
      /** @type {Identity} */
      const identity = {
        ...had,
        personName: typeof me.personName === 'string' ? me.personName : had.personName,
        label: typeof me.label === 'string' ? me.label : had.label,
        role,
        scope: typeof me.scope === 'string' ? me.scope : had.scope,
        write: writesRecords(role, me.write === true),
      };
      this.#identityStale = false;
      if (JSON.stringify(identity) === JSON.stringify(had)) return;
      await this.#exclusive(async () => {
        // Signed out or set up anew meanwhile: this answer is not theirs.
        if (this.identity !== had || this.#token !== token) return;
        await this.#commit({ meta: { identity } });
        this.identity = identity;
      });
      this.#notify({ type: 'identity' });
    } catch {
      // The next sync asks again.
    }
  }

  async #refreshPlaces() {
    try {
      const body = await this.#timed(async (signal) => {
        const response = await this.fetch(`${this.#base()}/v1/places`, { headers: { Authorization: `Bearer ${this.#token}`, Accept: 'application/json' }, signal });
        return response.ok ? abortable(response.json(), signal) : null;
      });
      if (!body || !Array.isArray(body.villages)) return;
      /** @type {Record<string, string>} */
      const places = {};
      if (typeof body.scope === 'string' && typeof body.name === 'string') places[body.scope] = body.name;
      for (const [code, name] of Object.entries(body.towns ?? {})) if (typeof name === 'string') places[code] = name;
      for (const v of body.villages) if (v && typeof v.code === 'string' && typeof v.name === 'string') places[v.code] = v.name;
      await this.store.commit({ meta: { places } });
      this.#notify({ type: 'places' });
    } catch {
      // Names are a nicety: the next sync tries again.
    }
  }

  /** Records not yet on the server, to save elsewhere (JSON-serialisable). */
  async exportUnsent() {
    const ids = [...this.#states.values()].filter((s) => s.dirty || s.attention).map((s) => s.id).sort();
    const stored = await this.#getRecords(ids);
    return {
      exportedAt: new Date(this.now()).toISOString(),
      device: this.identity?.device ?? null,
      records: [...stored.values()].map((r) => ({ id: r.id, summary: r.state?.summary ?? null, attention: r.state?.attention ?? null, base64: base64(r.bytes) })),
    };
  }

  // ----------------------------------------------------------------- writes

  #author() {
    if (!this.identity || !this.#actor) throw new ClientError('not_set_up', 'set this phone up first');
    if (this.#signedOut) throw new ClientError('signed_out', 'this phone was signed out; export unsent records, then sign out and erase');
    if (!this.identity.write) throw new ClientError('read_only', 'this device may only read records');
    return { cadre: this.identity.person, at: this.now() };
  }

  #defaultVillage() {
    const scope = this.identity?.scope ?? '';
    return /^\d{12}$/.test(scope) ? scope : undefined;
  }

  /**
   * @param {'createDispute' | 'createVisit'} fn
   * @param {any} fields
   */
  async #create(fn, fields) {
    const author = this.#author();
    const village = fields.village ?? this.#defaultVillage();
    const actor = /** @type {string} */ (this.#actor);
    const defaults = fn === 'createVisit' ? { visitedAt: author.at } : {};
    const doc = this.records[fn](A.init({ actor }), author, { ...defaults, ...fields, village });
    const id = newDocumentId();
    await this.#exclusive(async () => this.#save(id, null, doc, emptyState(id)));
    this.#notify({ type: 'records', ids: [id] });
    this.#kick();
    return id;
  }

  /** @param {any} fields @returns {Promise<string>} the new record's id */
  createDispute(fields) {
    return this.#create('createDispute', fields);
  }

  /** @param {any} fields @returns {Promise<string>} the new record's id */
  createVisit(fields) {
    return this.#create('createVisit', fields);
  }

  /**
   * Edits a record: `change(doc, author)` returns the new doc (e.g. with
   * the records API). Validated like the server validates before anything
   * is saved; an edit that changes nothing saves nothing.
   * @param {string} id
   * @param {(doc: any, author: {cadre: string, at: number}) => any} change
   */
  async edit(id, change) {
    const author = this.#author();
    const actor = /** @type {string} */ (this.#actor);
    const changed = await this.#exclusive(async () => {
      // Another tab of the app may save the same record between our read and
      // our write: the store then refuses the write and the edit is redone
      // on what that tab saved, so neither edit is lost.
      for (let attempt = 1; ; attempt++) {
        const stored = await this.store.getRecord(id);
        if (!stored) throw new ClientError('not_found', `no record ${id} on this phone`);
        const previous = A.load(stored.bytes);
        const working = A.load(stored.bytes, { actor });
        const after = change(working, author);
        if (!after) throw new ClientError('bad_edit', 'the edit returned no document');
        if (sameHeadList(A.getHeads(after), A.getHeads(previous))) return false;
        const state = stored.state ?? emptyState(id);
        try {
          await this.#save(id, previous, after, state, [{ id, bytes: stored.bytes, state }]);
          return true;
        } catch (e) {
          if (isConflict(e) && attempt < CONFLICT_TRIES) continue;
          throw e;
        }
      }
    });
    if (changed) {
      this.#notify({ type: 'records', ids: [id] });
      this.#kick();
    }
  }

  /**
   * Validates and saves a record (inside #exclusive).
   * @param {string} id
   * @param {any} previous
   * @param {any} doc
   * @param {State} state
   * @param {import('./store/memory.js').Expectation[]} [expect]  what the store must still hold
   */
  async #save(id, previous, doc, state, expect) {
    const bytes = A.save(doc);
    const person = /** @type {Identity} */ (this.identity).person;
    const errors = [
      ...(this.records.validate(doc, previous, bytes.length, undefined, this.now()) ?? []),
      ...(this.records.checkAuthorship ? this.records.checkAuthorship(doc, previous, person) ?? [] : []),
    ];
    if (errors.length > 0) throw new ValidationError(errors);
    const summary = { ...this.records.summarize(doc), id };
    await this.#commit({ records: [{ id, bytes, state: { ...state, id, summary, dirty: true } }], ...(expect ? { expect } : {}) });
  }

  /**
   * Clears a record's news (the cadre has seen what others did).
   * @param {string} id
   */
  async markSeen(id) {
    await this.#exclusive(async () => {
      const state = (await this.store.getRecord(id))?.state ?? this.#states.get(id);
      if (!state || !state.news) return;
      await this.#commit({ states: [{ ...state, id, news: null }] });
    });
    this.#notify({ type: 'records', ids: [id] });
  }

  /**
   * Sends a record the server refused again, whole, at the next sync (after
   * a person fixed what the server objected to).
   * @param {string} id
   */
  async retry(id) {
    this.#author();
    await this.#exclusive(async () => {
      const state = (await this.store.getRecord(id))?.state;
      if (!state) throw new ClientError('not_found', `no record ${id} on this phone`);
      await this.#commit({ states: [{ ...state, id, attention: null, dirty: true, resend: true }] });
    });
    this.#notify({ type: 'records', ids: [id] });
    this.#kick();
  }

  /**
   * Gives up this phone's unsent changes to a record: the local copy is
   * dropped, and the next sync fetches the server's copy afresh (as the
   * Rust replica's discard_local_changes).
   * @param {string} id
   */
  async discardLocalChanges(id) {
    await this.#exclusive(async () => {
      // Deletes apply before puts in one commit: the document goes, a bare dirty state stays.
      await this.#commit({ deletes: [id], states: [{ ...emptyState(id), dirty: true }] });
    });
    this.#notify({ type: 'records', ids: [id] });
    this.#kick();
  }

  // ------------------------------------------------------------------- sync

  /**
   * The network came or went (the window's events call this).
   * @param {boolean} online
   */
  setOnline(online) {
    if (this.#closed) return;
    const decision = this.machine.setOnline(online, this.now());
    if (!online) this.#stopTimer();
    this.#notify({ type: 'status' });
    if (this.autoSync) this.#follow(decision);
  }

  /**
   * Syncs now, until the server has nothing more. Resolves with what the
   * run did; rejects with a SyncError at the first failure (automatic
   * retries go on when autoSync is on).
   * @returns {Promise<SyncReport>}
   */
  syncNow() {
    if (!this.identity) return Promise.reject(new ClientError('not_set_up', 'set this phone up first'));
    if (this.#signedOut || !this.#token) return Promise.reject(new ClientError('signed_out', 'this phone was signed out'));
    const done = new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
    this.machine.online = true;
    const decision = this.machine.syncNow(this.now());
    this.#follow(decision);
    return /** @type {Promise<SyncReport>} */ (done);
  }

  /** A local change: sync soon if allowed. */
  #kick() {
    if (!this.autoSync || !this.#token || this.#signedOut) return;
    this.machine.pending = true;
    this.#follow(this.machine.decide(this.now()));
  }

  /**
   * Acts on a decision of the machine.
   * @param {import('./sync.js').Decision} decision
   */
  #follow(decision) {
    if (this.#closed) return;
    this.#stopTimer();
    if (decision.action === 'send') {
      if (!this.autoSync && !this.machine.runActive && this.#waiters.length === 0) return;
      void this.#round();
    } else if (decision.action === 'wait') {
      if (!this.autoSync) return;
      const delay = Math.max(0, decision.at - this.now());
      this.#timer = this.setTimeout(() => {
        this.#timer = null;
        this.#follow(this.machine.tick(this.now()));
      }, delay);
    }
  }

  #stopTimer() {
    if (this.#timer !== null) {
      this.clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  /** One exchange: build, send, apply. */
  async #round() {
    if (!this.machine.runActive) this.#report = newReport();
    const generation = this.#generation;
    this.machine.sent(this.now());
    this.#notify({ type: 'status' });
    /** @type {import('./sync.js').Decision & {signOut?: boolean}} */
    let decision;
    /** @type {import('./sync.js').SyncStep | null} */
    let step = null;
    try {
      const { request, plainBytes } = await this.#buildRequest();
      const { response, up, down } = await this.#exchange(request, plainBytes);
      this.#report.bytesUp += up;
      this.#report.bytesDown += down;
      step = await this.#exclusive(() => this.#apply(response, generation));
      this.#report.rounds++;
      this.#report.acknowledged += step.acknowledged.length;
      this.#report.received += step.received.length;
      this.#report.merged += step.merged.length;
      this.#report.rejected += step.rejected.length;
      this.#report.purged += step.purged.length;
      this.#report.reset ||= step.reset;
      if (step.purged.length > 0 || step.reset) this.#identityStale = true;
      decision = this.machine.succeeded(step, this.now());
    } catch (e) {
      if (generation !== this.#generation) return; // erased meanwhile: this run is over
      const error = toSyncError(e);
      decision = this.machine.failed(error, this.now());
      if (decision.signOut) await this.#signedOutByServer('revoked');
      this.#rejectWaiters(error);
    }
    if (step && (step.received.length || step.purged.length || step.acknowledged.length || step.rejected.length || step.reset)) {
      this.#notify({ type: 'records', ids: [...step.received, ...step.purged, ...step.acknowledged, ...step.rejected.map((r) => r.id)] });
    }
    if (!this.machine.runActive && !this.machine.lastError) {
      const report = this.#report;
      // A phone moved to another place learns its new scope before the
      // run counts as done, so the next record is filed where it now works.
      if (this.#identityStale) {
        await this.refreshIdentity();
        // The names of the new scope's places.
        if (!this.#identityStale) void this.#refreshPlaces();
      }
      for (const w of this.#waiters.splice(0)) w.resolve(report);
      if (this.now() - this.#peopleFetchedAt > 5 * 60_000) void this.refreshPeople();
    } else if (!this.machine.runActive && this.machine.lastError) {
      // A run that stopped without a failed exchange (too many rounds).
      this.#rejectWaiters(this.machine.lastError);
    }
    this.#notify({ type: 'status' });
    this.#follow(decision);
  }

  /** @param {unknown} error */
  #rejectWaiters(error) {
    for (const w of this.#waiters.splice(0)) w.reject(error);
  }

  async #buildRequest() {
    const cursor = (await this.store.getMeta('cursor')) ?? null;
    const builder = this.machine.beginRequest(cursor);
    const order = this.machine.uploadOrder(this.#states.values());
    // Load in small groups: only what fits the upload budget is read.
    for (let i = 0; i < order.length && builder.wants(); i += 16) {
      const group = order.slice(i, i + 16);
      const stored = await this.#getRecords(group);
      for (const id of group) {
        if (!builder.wants()) break;
        const state = /** @type {State} */ (this.#states.get(id));
        builder.add(id, state, stored.get(id)?.bytes);
      }
    }
    const request = builder.finish();
    return { request, plainBytes: encodeRequest(request) };
  }

  /** @param {string[]} ids */
  async #getRecords(ids) {
    if (typeof this.store.getRecords === 'function') return this.store.getRecords(ids);
    const out = new Map();
    for (const id of ids) {
      const r = await this.store.getRecord(id);
      if (r) out.set(id, r);
    }
    return out;
  }

  /**
   * Applies a response (inside #exclusive): the machine merges, the store
   * commits every write and the cursor at once.
   * @param {import('./wire.js').SyncResponse} response
   */
  async #apply(response, generation) {
    for (let attempt = 1; ; attempt++) {
      if (generation !== this.#generation) throw new ClientError('signed_out', 'this phone was erased while it synced');
      try {
        return await this.#applyOnce(response);
      } catch (e) {
        // Another tab saved one of these records meanwhile: merge again on what it saved.
        if (isConflict(e) && attempt < CONFLICT_TRIES) continue;
        if (e instanceof SyncError) throw e;
        const full = /** @type {any} */ (e)?.code === 'storage_full';
        throw new SyncError(full ? 'storage_full' : 'storage', full ? /** @type {any} */ (e).message : `the phone's storage failed: ${e instanceof Error ? e.message : e}`, { cause: e });
      }
    }
  }

  /** @param {import('./wire.js').SyncResponse} response */
  async #applyOnce(response) {
    const need = this.machine.needs(response);
    const stored = await this.#getRecords(need.ids);
    const docs = new Map([...stored].map(([id, r]) => [id, r.bytes]));
    // The states of the records in the response as stored now (another tab
    // of the app may have edited them), the rest from the cache.
    let states = this.#states;
    if (need.allHeld) {
      states = await this.store.getStates();
    } else if (stored.size > 0) {
      states = new Map(this.#states);
      for (const [id, r] of stored) if (r.state) states.set(id, { ...r.state, id });
    }
    let heldIds;
    if (need.allHeld) heldIds = typeof this.store.ids === 'function' ? await this.store.ids() : [...states.keys()];
    const { writes, step } = this.machine.applyResponse(
      { states, docs, heldIds, actor: this.#actor ?? undefined },
      response,
      this.now(),
    );
    // Written only if no record of the response changed since it was read.
    writes.expect = need.ids.map((id) => {
      const r = stored.get(id);
      return r ? { id, bytes: r.bytes, state: r.state ?? emptyState(id) } : { id, bytes: null };
    });
    await this.#commit(writes);
    return step;
  }

  #base() {
    return (this.baseUrl ?? this.identity?.server ?? '').replace(/\/+$/, '');
  }

  /**
   * Runs a fetch with the request timeout (AbortController).
   * @template T
   * @param {(signal: AbortSignal) => Promise<T>} fn
   * @returns {Promise<T>}
   */
  async #timed(fn) {
    const controller = new AbortController();
    const timer = this.setTimeout(() => controller.abort(new SyncError('timeout', `no answer within ${Math.round(this.requestTimeoutMs / 1000)} s`)), this.requestTimeoutMs);
    try {
      return await abortable(fn(controller.signal), controller.signal);
    } finally {
      this.clearTimeout(timer);
    }
  }

  /**
   * POST /v1/sync.
   * @param {import('./wire.js').SyncRequest} request
   * @param {Uint8Array} plain
   */
  async #exchange(request, plain) {
    void request;
    const token = this.#token;
    if (!token) throw new SyncError('unauthorized', 'this phone holds no token');
    const { body, encoding } = await compressBody(plain);
    /** @type {Record<string, string>} */
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/cbor' };
    if (encoding) headers['Content-Encoding'] = encoding;
    const controller = new AbortController();
    this.#abort = controller;
    const timer = this.setTimeout(() => controller.abort(), this.requestTimeoutMs);
    let status;
    let bytes;
    let wire = 0;
    let retryAfter = null;
    try {
      // The timeout holds even for a fetch (a shell's) that ignores the signal, and while the body trickles in.
      const response = await abortable(
        this.fetch(`${this.#base()}/v1/sync`, { method: 'POST', headers, body: /** @type {BodyInit} */ (/** @type {unknown} */ (body)), signal: controller.signal }),
        controller.signal,
      );
      status = response.status;
      retryAfter = response.headers?.get?.('retry-after') ?? null;
      bytes = new Uint8Array(await abortable(response.arrayBuffer(), controller.signal));
      // What crossed the wire (compressed), when the server says.
      wire = Number(response.headers?.get?.('content-length')) || bytes.length;
    } catch (e) {
      if (controller.signal.aborted) {
        throw new SyncError('timeout', `the server did not answer within ${Math.round(this.requestTimeoutMs / 1000)} s`, { cause: e });
      }
      throw new SyncError('network', `could not reach the server: ${e instanceof Error ? e.message : e}`, { cause: e });
    } finally {
      this.clearTimeout(timer);
      if (this.#abort === controller) this.#abort = null;
    }
    if (status !== 200) {
      const error = decodeErrorBody(bytes, status);
      // A body that says nothing (a proxy's page, an empty 429) counts by its status.
      const code = error.code === 'unknown' ? codeForStatus(status) : error.code;
      throw new SyncError(code, error.message, { status, retryAfterMs: parseRetryAfter(retryAfter, this.now()) ?? undefined });
    }
    let response;
    try {
      response = decodeResponse(bytes);
    } catch (e) {
      if (e instanceof WireError) throw new SyncError(e.code === 'unsupported_version' ? 'unsupported_version' : 'bad_response', e.message, { cause: e });
      throw new SyncError('bad_response', `the server's answer could not be read: ${e}`, { cause: e });
    }
    return { response, up: body.length, down: wire };
  }

  /** Stops timers and listeners (the store stays open). */
  close() {
    this.#closed = true;
    this.#stopTimer();
    this.#abort?.abort();
    for (const off of this.#unlisten.splice(0)) off();
    this.#rejectWaiters(new ClientError('closed', 'the client was closed'));
  }
}

/**
 * The protocol code that goes with an HTTP status, for bodies without one.
 * @param {number} status
 */
export function codeForStatus(status) {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 409) return 'conflict';
  if (status === 410) return 'removed';
  if (status === 413) return 'too_large';
  if (status === 422) return 'invalid_record';
  if (status === 429) return 'rate_limited';
  if (status === 502 || status === 503 || status === 504) return 'unavailable';
  if (status >= 500) return 'internal';
  if (status === 400) return 'bad_request';
  return 'unknown';
}

/**
 * The records API of this package: edits, reading and summaries
 * (record/), validation, the duplicate rule and the schema.
 */
export async function defaultRecords() {
  const [record, validation, duplicates, vocab] = await Promise.all([
    import('./record/index.js'),
    import('./validate.js'),
    import('./duplicates.js'),
    import('./vocab.js'),
  ]);
  return { ...record, ...validation, ...duplicates, schema: vocab.SCHEMA };
}

/**
 * `promise`, or a rejection as soon as `signal` aborts (with its reason, or
 * a timeout), whether or not whatever made the promise heeds the signal.
 * @template T
 * @param {Promise<T>} promise
 * @param {AbortSignal} signal
 * @returns {Promise<T>}
 */
function abortable(promise, signal) {
  const reason = () => signal.reason ?? new SyncError('timeout', 'the request was given up');
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(reason());
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(reason());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** @returns {SyncReport} */
function newReport() {
  return { rounds: 0, acknowledged: 0, received: 0, merged: 0, rejected: 0, purged: 0, reset: false, bytesUp: 0, bytesDown: 0 };
}

/** @param {unknown} e @returns {SyncError} */
function toSyncError(e) {
  if (e instanceof SyncError) return e;
  if (e && typeof e === 'object' && 'code' in e && typeof (/** @type {any} */ (e).code) === 'string' && /** @type {any} */ (e).name === 'StoreError') {
    return new SyncError('storage', /** @type {any} */ (e).message, { cause: e });
  }
  return new SyncError('storage', `sync failed on this phone: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

/**
 * @param {string | null} value
 * @param {number} now
 */
function parseRetryAfter(value, now) {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : null;
}

/**
 * Whether a device writes records: cadre and town devices by role, a
 * district device when an admin granted it, supervisors and admins never
 * (shared/src/access.rs).
 * @param {string} role
 * @param {boolean} granted
 */
export function writesRecords(role, granted) {
  if (role === 'cadre' || role === 'town') return true;
  if (role === 'district') return granted;
  return false;
}

/** @param {any} s */
function isOpen(s) {
  return (s.status ?? 'open') !== 'resolved';
}

/** @param {any} s */
function isPendingFollowUp(s) {
  return !!s.followUpNeeded && !s.followUpDone;
}

/**
 * @param {string[]} a
 * @param {string[]} b
 */
function sameHeadList(a, b) {
  if (a.length !== b.length) return false;
  const sb = new Set(b);
  return a.every((h) => sb.has(h));
}

