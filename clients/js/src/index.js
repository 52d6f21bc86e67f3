// @fengqiao/client: Fengqiao's phone side for browsers and JavaScript shells.

// sync, store, client
export { A, init, isInitialized } from './automerge.js';
export {
  ClientError,
  EDITS,
  FieldClient,
  SetupError,
  ValidationError,
  codeForStatus,
  defaultRecords,
  errorText,
  parseSetup,
  syncOf,
  writesRecords,
} from './client.js';
// (isDocumentId comes from the records block: record/docid.js)
export { IdError, actorFor, fromHex, newDocumentId, parseDocumentId, toHex } from './ids.js';
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

// records
export {
  addEvent,
  addParty,
  assign,
  createDispute,
  createVisit,
  describeMerge,
  documentIdProblem,
  EditError,
  foldStatus,
  followUpOverdue,
  followUpPending,
  handlingLevel,
  isConcluded,
  isDocumentId,
  isOpen,
  isOverdue,
  isVillageCode,
  linkDispute,
  linkRelated,
  markFollowUpDone,
  markNotDuplicate,
  newDocument,
  ReadError,
  readRecord,
  removeParty,
  scheduleFollowUp,
  setCategory,
  setDescription,
  setDuplicateOf,
  setNotes,
  setRisk,
  setSentiment,
  setTitle,
  setTopics,
  summarize,
  summaryOf,
  timeline,
  unassign,
  unlinkRelated,
  villageCodeProblem,
} from './record/index.js';
export { DUPLICATE_WINDOW_DAYS, duplicateMatches, possibleDuplicates } from './duplicates.js';
export { checkAuthorship, FUTURE_ALLOWANCE_MILLIS, newDuplicateLinks, validate } from './validate.js';
export {
  ERROR_CODES,
  IMMUTABLE,
  isValue,
  label,
  labels,
  LIMITS,
  OVERDUE_DAYS,
  rank,
  SCHEMA,
  SCHEMA_VERSION,
  values,
} from './vocab.js';
