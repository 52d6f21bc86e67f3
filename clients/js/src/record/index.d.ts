export { describeMerge } from "./news.js";
export { diff as textDiff } from "./text_diff.js";
export { addEvent, addParty, assign, createDispute, createVisit, EditError, linkDispute, linkRelated, markFollowUpDone, markNotDuplicate, newDocument, removeParty, scheduleFollowUp, setCategory, setDescription, setDuplicateOf, setNotes, setRisk, setSentiment, setTitle, setTopics, unassign, unlinkRelated } from "./edit.js";
export { ReadError, readRecord } from "./read.js";
export { followUpOverdue, followUpPending, isOpen, isOverdue, summarize, summaryOf } from "./summary.js";
export { timeline, foldStatus, handlingLevel, isConcluded } from "./status.js";
export { documentIdProblem, isDocumentId } from "./docid.js";
export { isVillageCode, villageCodeProblem } from "./village.js";
