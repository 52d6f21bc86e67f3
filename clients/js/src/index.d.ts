// Types of @fengqiao/client's public API.

// sync, store, client
import type * as AutomergeNS from '@automerge/automerge/slim';

export declare const A: typeof AutomergeNS;
export declare function init(source?: string | URL | Response | BufferSource | WebAssembly.Module): Promise<void>;
export declare function isInitialized(): boolean;

// --- ids ---
export declare class IdError extends Error {
  code: 'bad_document_id' | 'bad_device_id' | 'bad_hex';
}
export declare function newDocumentId(): string;
export declare function parseDocumentId(id: string): Uint8Array;
export declare function actorFor(deviceId: string): string;
export declare function toHex(bytes: Uint8Array): string;
export declare function fromHex(hex: string): Uint8Array;

// --- wire ---
export interface ErrorBody {
  code: string;
  message: string;
}
export interface DocUpload {
  id: string;
  /** lowercase hex change hashes */
  heads: string[];
  changes?: Uint8Array;
}
export interface SyncRequest {
  v?: number;
  cursor?: Uint8Array | null;
  budget?: number;
  docs?: DocUpload[];
}
export interface DocResult {
  id: string;
  heads: string[];
  data: Uint8Array;
  error: ErrorBody | null;
  resend: boolean;
}
export interface SyncResponse {
  v: number;
  cursor: Uint8Array;
  more: boolean;
  docs: DocResult[];
  purge: string[];
  reset: boolean;
  /** records the server still has to send after this response, when it says */
  remaining: number | null;
}
export declare const BATCH_VERSION: 1;
export declare const MAX_CURSOR_BYTES: number;
export declare const DEFAULT_BUDGET: number;
export declare const COMPRESS_ABOVE: number;
export declare class WireError extends Error {
  code: 'bad_response' | 'bad_request' | 'unsupported_version';
}
export declare function encodeRequest(request: SyncRequest): Uint8Array;
export declare function decodeRequest(body: Uint8Array): { v: number; cursor: Uint8Array | null; budget: number | null; docs: Required<DocUpload>[] };
export declare function encodeResponse(response: Partial<SyncResponse> & { cursor: Uint8Array }): Uint8Array;
export declare function decodeResponse(body: Uint8Array): SyncResponse;
export declare function decodeErrorBody(body: Uint8Array, status: number): ErrorBody;
export declare function gzip(bytes: Uint8Array): Promise<Uint8Array>;
export declare function gunzip(bytes: Uint8Array): Promise<Uint8Array>;
export declare function compressBody(plain: Uint8Array): Promise<{ body: Uint8Array; encoding: string | null }>;

// --- stores ---
export interface News {
  eventsAdded: { by: string; kind: string; at: number; level?: string; assignee?: string; due?: number }[];
  statusBefore: string | null;
  statusAfter: string | null;
  stageBefore?: string | null;
  stageAfter?: string | null;
  riskBefore: string | null;
  riskAfter: string | null;
  riskConflict: string[] | null;
  sentimentConflict: string[] | null;
}
export interface State {
  id: string;
  serverHeads: string[];
  dirty: boolean;
  attention: ErrorBody | null;
  resend: boolean;
  summary: Summary | null;
  news: News | null;
}
export interface Stored {
  id: string;
  bytes: Uint8Array;
  state?: State;
}
export interface WriteSet {
  records?: Stored[];
  states?: State[];
  deletes?: string[];
  /** a value of undefined deletes the key */
  meta?: Record<string, unknown>;
}
/** What a store offers; MemoryStore and IdbStore implement it. */
export interface Store {
  getMeta(key: string): Promise<any>;
  getRecord(id: string): Promise<Stored | undefined>;
  getRecords?(ids: string[]): Promise<Map<string, Stored>>;
  getStates(): Promise<Map<string, State>>;
  dirtyIds(): Promise<string[]>;
  ids?(): Promise<string[]>;
  /** all or nothing (one IndexedDB transaction over every object store) */
  commit(writes: WriteSet): Promise<void>;
  erase(): Promise<void>;
}
export declare function emptyState(id: string): State;
export declare class MemoryStore implements Store {
  commits: number;
  getMeta(key: string): Promise<any>;
  getRecord(id: string): Promise<Stored | undefined>;
  getRecords(ids: string[]): Promise<Map<string, Stored>>;
  getState(id: string): Promise<State | undefined>;
  getStates(): Promise<Map<string, State>>;
  dirtyIds(): Promise<string[]>;
  ids(): Promise<string[]>;
  commit(writes: WriteSet): Promise<void>;
  erase(): Promise<void>;
  close(): Promise<void>;
}
export declare const DB_NAME: 'fengqiao-field';
export declare class StoreError extends Error {
  code: 'storage' | 'blocked' | 'unavailable';
}
export declare class IdbStore implements Store {
  constructor(options?: { name?: string; indexedDB?: IDBFactory; version?: number });
  open(): Promise<IDBDatabase>;
  getMeta(key: string): Promise<any>;
  getRecord(id: string): Promise<Stored | undefined>;
  getRecords(ids: string[]): Promise<Map<string, Stored>>;
  getState(id: string): Promise<State | undefined>;
  getStates(): Promise<Map<string, State>>;
  dirtyIds(): Promise<string[]>;
  ids(): Promise<string[]>;
  commit(writes: WriteSet): Promise<void>;
  erase(): Promise<void>;
  close(): void;
}
export declare function openIdbStore(options?: { name?: string; indexedDB?: IDBFactory; version?: number }): Promise<IdbStore>;

// --- sync machine ---
export interface SyncOptions {
  responseBudget?: number;
  uploadBudget?: number;
  periodMs?: number;
  firstBackoffMs?: number;
  maxBackoffMs?: number;
  maxRounds?: number;
  random?: () => number;
  summarize?: (doc: any) => any;
  describeMerge?: (before: any, after: any, person: string | null) => News | null;
  person?: string | null;
}
export interface SyncStep {
  more: boolean;
  acknowledged: string[];
  received: string[];
  merged: string[];
  rejected: { id: string; error: ErrorBody }[];
  purged: string[];
  reset: boolean;
  results: number;
  remaining: number | null;
}
export type Decision = { action: 'send' } | { action: 'wait'; at: number } | { action: 'idle'; why: string };
export declare class SyncError extends Error {
  constructor(code: string, message: string, extra?: { status?: number; retryAfterMs?: number; cause?: unknown });
  code: string;
  status: number | null;
  retryAfterMs: number | null;
}
export declare const NOT_HELD_HERE: Readonly<ErrorBody>;
export declare function isRetryable(error: { code: string; status?: number | null }): boolean;
export declare function sameHeads(a: string[], b: string[]): boolean;
export declare function foldNews(older: News | null, newer: News | null): News | null;
export interface RequestBuilder {
  wants(): boolean;
  add(id: string, state: State, stored: Uint8Array | undefined): void;
  leftSome(): void;
  finish(): SyncRequest;
}
export declare class SyncMachine {
  constructor(options?: SyncOptions);
  online: boolean;
  inFlight: boolean;
  pending: boolean;
  halted: boolean;
  signedOut: boolean;
  runActive: boolean;
  lastSync: number | null;
  lastError: SyncError | null;
  retryAt: number | null;
  uploadOrder(states: Iterable<State>): string[];
  beginRequest(cursor: Uint8Array | null | undefined): RequestBuilder;
  buildRequest(snapshot: { cursor?: Uint8Array | null; states: Iterable<State>; docs: Map<string, Uint8Array | undefined> }): SyncRequest;
  upload(id: string, state: State, stored: Uint8Array | undefined): DocUpload;
  needs(response: SyncResponse): { ids: string[]; allHeld: boolean };
  applyResponse(
    snapshot: { states: Map<string, State>; docs: Map<string, Uint8Array>; heldIds?: string[]; actor?: string },
    response: SyncResponse,
    now: number,
  ): { writes: WriteSet; step: SyncStep };
  decide(now: number): Decision;
  start(now: number, online?: boolean): Decision;
  setOnline(online: boolean, now: number): Decision;
  syncNow(now: number): Decision;
  tick(now: number): Decision;
  sent(now: number): void;
  succeeded(step: SyncStep, now: number): Decision;
  failed(error: { code: string; message: string; status?: number | null; retryAfterMs?: number | null }, now: number): Decision & { signOut?: boolean };
  backoff(n: number, retryAfterMs: number | null): number;
  progress(): { done: number; total: number } | null;
}

// --- client ---
/** The record's projection (shared/src/summary.rs, camelCase). */
export interface Summary {
  id: string;
  kind: 'dispute' | 'visit';
  village: string;
  createdAt: number;
  createdBy: string;
  lastActivity: number;
  title: string;
  status?: string | null;
  category?: string | null;
  risk?: string | null;
  escalationLevel?: string | null;
  maxEscalationLevel?: string | null;
  resolvedAt?: number | null;
  partyNames: string[];
  assignees: string[];
  eventCount: number;
  duplicateOf?: string | null;
  visitedAt?: number | null;
  sentiment?: string | null;
  topics?: string[];
  followUpNeeded: boolean;
  followUpDone: boolean;
  followUpDue?: number | null;
  linkedDispute?: string | null;
}
export interface Identity {
  device: string;
  person: string;
  personName: string | null;
  label?: string;
  role: string;
  scope: string;
  write: boolean;
  server: string;
}
export type SyncState = 'unsent' | 'synced' | 'attention';
export interface Listed {
  id: string;
  summary: Summary;
  sync: SyncState;
  attention: ErrorBody | null;
  news: News | null;
}
export interface ListFilter {
  search?: string;
  kind?: string;
  status?: string;
  category?: string;
  risk?: string;
  overdue?: boolean;
  needsFollowUp?: boolean;
  sync?: SyncState;
}
export interface SyncReport {
  rounds: number;
  acknowledged: number;
  received: number;
  merged: number;
  rejected: number;
  purged: number;
  reset: boolean;
  bytesUp: number;
  bytesDown: number;
}
export interface ClientStatus {
  online: boolean;
  syncing: boolean;
  lastSync: number | null;
  progress: { done: number; total: number } | null;
  error: ErrorBody | null;
  signedOut: { reason: string; kept: number } | null;
}
export interface FieldClientOptions {
  store: Store;
  baseUrl?: string | null;
  fetch?: typeof fetch;
  now?: () => number;
  setTimeout?: (fn: () => void, ms: number) => any;
  clearTimeout?: (handle: any) => void;
  autoSync?: boolean;
  online?: boolean;
  listenNetwork?: boolean;
  requestTimeoutMs?: number;
  random?: () => number;
  sync?: SyncOptions;
  records?: any;
  overdueDays?: number;
  /** tell the app's other tabs on the same IndexedDB what changed (BroadcastChannel) */
  broadcast?: boolean;
}
export type Author = { cadre: string; at: number };
export declare const EDITS: readonly string[];
export declare class SetupError extends Error {
  code: 'bad_setup' | 'already_set_up' | 'unauthorized' | 'offline' | 'server_error' | 'not_a_device';
}
export declare class ValidationError extends Error {
  code: 'invalid_record';
  errors: { field: string; code: string; message: string }[];
}
export declare class ClientError extends Error {
  code: string;
}
export declare function parseSetup(text: string): { server: string; token: string; device: string };
export declare function errorText(error: { code: string; message?: string }, lang?: 'zh' | 'en'): string;
export declare function syncOf(state: State): SyncState;
export declare function codeForStatus(status: number): string;
export declare function writesRecords(role: string, granted: boolean): boolean;
export declare function defaultRecords(): Promise<any>;
export declare class FieldClient {
  static open(options: FieldClientOptions): Promise<FieldClient>;
  identity: Identity | null;
  readonly status: ClientStatus;
  machine: SyncMachine;
  store: Store;
  subscribe(fn: (event: { type: string; ids?: string[] }) => void): () => void;
  setup(text: string): Promise<Identity>;
  signOutAndErase(): Promise<void>;
  list(filter?: ListFilter): Promise<Listed[]>;
  today(): Promise<{ followUpsDue: Listed[]; overdue: Listed[]; assignedToMe: Listed[]; attention: Listed[] }>;
  get(
    id: string,
    options?: { history?: boolean },
  ): Promise<
    | {
        id: string;
        record: any;
        readError: ErrorBody | null;
        doc: any;
        summary: Summary | null;
        sync: SyncState;
        attention: ErrorBody | null;
        news: News | null;
        history?: { hash: string; actor: string; at: number; message: string | null }[];
      }
    | undefined
  >;
  createDispute(fields: any): Promise<string>;
  createVisit(fields: any): Promise<string>;
  edit(id: string, change: (doc: any, author: Author) => any): Promise<void>;
  addEvent(id: string, event: { kind: string; level?: string; outcome?: string; note?: string; satisfied?: boolean }): Promise<void>;
  setRisk(id: string, risk: string): Promise<void>;
  setTitle(id: string, title: string): Promise<void>;
  setDescription(id: string, text: string): Promise<void>;
  setCategory(id: string, category: string): Promise<void>;
  addParty(id: string, party: { name: string; role: string; phone?: string; note?: string }): Promise<void>;
  removeParty(id: string, ...args: any[]): Promise<void>;
  assign(id: string, cadre: string): Promise<void>;
  unassign(id: string, cadre: string): Promise<void>;
  setNotes(id: string, notes: string): Promise<void>;
  setTopics(id: string, topics: string[]): Promise<void>;
  setSentiment(id: string, sentiment: string): Promise<void>;
  scheduleFollowUp(id: string, ...args: any[]): Promise<void>;
  markFollowUpDone(id: string, ...args: any[]): Promise<void>;
  markNotDuplicate(id: string, ...args: any[]): Promise<void>;
  setDuplicateOf(id: string, original: string | null): Promise<void>;
  linkRelated(id: string, other: string): Promise<void>;
  unlinkRelated(id: string, other: string): Promise<void>;
  linkDispute(id: string, dispute: string | null): Promise<void>;
  retry(id: string): Promise<void>;
  discardLocalChanges(id: string): Promise<void>;
  duplicatesFor(draft: { village?: string; category?: string | null; parties: { name: string }[]; reportedAt?: number }): Promise<{ id: string; summary: Summary | null }[]>;
  markSeen(id: string): Promise<void>;
  setOnline(online: boolean): void;
  syncNow(): Promise<SyncReport>;
  exportUnsent(): Promise<{ exportedAt: string; device: string | null; records: { id: string; summary: Summary | null; attention: ErrorBody | null; base64: string }[] }>;
  people(): Promise<Map<string, string>>;
  /** Names of the places of this phone's scope: village, town or district code → name (from GET /v1/places). */
  places(): Promise<Map<string, string>>;
  refreshPeople(): Promise<void>;
  /** Asks the server again who this device is (GET /v1/me): role, scope, write, name; kept when changed. */
  refreshIdentity(): Promise<void>;
  close(): void;
}

// records: edits, reading, summaries, merge news, validation, duplicates and
// the vocabularies (declarations generated from the sources' JSDoc).
export * from './record/index.js';
export * from './validate.js';
export * from './duplicates.js';
export * from './vocab.js';
