// The field names of record documents, exactly as the Rust crate
// (shared/src/record/fields.rs) and every other client write them.

export const TYPE = 'type';
export const SCHEMA = 'schema';
export const VILLAGE = 'village';
export const CREATED_AT = 'createdAt';
export const CREATED_BY = 'createdBy';

export const TITLE = 'title';
export const DESCRIPTION = 'description';
export const CATEGORY = 'category';
export const RISK = 'risk';
export const PARTIES = 'parties';
export const ASSIGNEES = 'assignees';
export const EVENTS = 'events';
export const LINKS = 'links';

export const NAME = 'name';
export const ROLE = 'role';
export const PHONE = 'phone';
export const NOTE = 'note';

export const AT = 'at';
export const BY = 'by';
export const KIND = 'kind';
export const LEVEL = 'level';
export const OUTCOME = 'outcome';
export const SATISFIED = 'satisfied';
/** The person an `assigned` event assigns; a `supervised` event's deadline is DUE_AT. */
export const ASSIGNEE = 'assignee';

export const DUPLICATE_OF = 'duplicateOf';
export const RELATED = 'related';
export const NOT_DUPLICATES = 'notDuplicates';

export const VISITED_AT = 'visitedAt';
export const HOUSEHOLD = 'household';
export const GROUP = 'group';
export const TOPICS = 'topics';
export const SENTIMENT = 'sentiment';
export const NOTES = 'notes';
export const FOLLOW_UP = 'followUp';
export const LINKED_DISPUTE = 'linkedDispute';

export const NEEDED = 'needed';
export const DONE = 'done';
export const DUE_AT = 'dueAt';

/** The root object of every document. */
export const ROOT = '_root';
