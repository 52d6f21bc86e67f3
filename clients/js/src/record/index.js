// Records: one Automerge document per dispute or household visit, edited,
// read, summarised and compared exactly as the Rust crate fengqiao-shared
// does.
export {
  addEvent,
  addParty,
  assign,
  createDispute,
  createVisit,
  EditError,
  linkDispute,
  linkRelated,
  markFollowUpDone,
  markNotDuplicate,
  newDocument,
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
  unassign,
  unlinkRelated,
} from './edit.js';
export { ReadError, readRecord } from './read.js';
export { followUpOverdue, followUpPending, isOpen, isOverdue, summarize, summaryOf } from './summary.js';
export { describeMerge } from './news.js';
export { timeline, foldStatus, handlingLevel, isConcluded } from './status.js';
export { documentIdProblem, isDocumentId } from './docid.js';
export { isVillageCode, villageCodeProblem } from './village.js';
export { diff as textDiff } from './text_diff.js';
