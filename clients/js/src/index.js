// @fengqiao/client: Fengqiao's phone side for browsers and JavaScript shells.

// sync, store, client
export { A, init, isInitialized } from './automerge.js';
export { ClientError, EDITS, FieldClient, SetupError, ValidationError, errorText, parseSetup, syncOf } from './client.js';
export { IdError, actorFor, fromHex, isDocumentId, newDocumentId, parseDocumentId, toHex } from './ids.js';
export { DB_NAME, IdbStore, StoreError, openIdbStore } from './store/idb.js';
export { MemoryStore, emptyState } from './store/memory.js';
export { NOT_HELD_HERE, SyncError, SyncMachine, foldNews, isRetryable, sameHeads } from './sync.js';
export {
  BATCH_VERSION,
  COMPRESS_ABOVE,
  DEFAULT_BUDGET,
  MAX_CURSOR_BYTES,
  WireError,
  compressBody,
  decodeErrorBody,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  gunzip,
  gzip,
} from './wire.js';
