/**
 * @typedef {object} NewDispute
 * @property {string} village a 12-digit village code
 * @property {string} title
 * @property {string} [description]
 * @property {string} category
 * @property {string} risk
 * @property {NewParty[]} [parties]
 * @property {string[]} [assignees] cadre ids to assign from the start
 */
/**
 * A new, empty document (`actor`: the hex actor id to write with).
 * @param {{actor?: string}} [options]
 * @returns {Doc}
 */
export function newDocument(options?: {
    actor?: string;
}): Doc;
/**
 * Creates a dispute in an empty document (a new one when `doc` is null):
 * the creation fields, the case, and the `reported` event that opens the
 * timeline. Message "dispute reported: <title>".
 * @param {Doc|null} doc
 * @param {Author} author
 * @param {NewDispute} dispute
 * @param {{actor?: string}} [options] the actor of a new document
 * @returns {Doc}
 */
export function createDispute(doc: Doc | null, author: Author, dispute: NewDispute, options?: {
    actor?: string;
}): Doc;
/**
 * Edits the title (a collaborative text). Message "title edited".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} title
 * @returns {Doc}
 */
export function setTitle(doc: Doc, author: Author, title: string): Doc;
/**
 * Edits the description (a collaborative text). Message "description edited".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} description
 * @returns {Doc}
 */
export function setDescription(doc: Doc, author: Author, description: string): Doc;
/**
 * Sets the category. Message "category land → debt" / "category set to debt".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} category
 * @returns {Doc}
 */
export function setCategory(doc: Doc, author: Author, category: string): Doc;
/**
 * Sets the risk; also settles a concurrent disagreement (which otherwise
 * reads as the highest). Message "risk medium → high" / "risk set to high".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} risk
 * @returns {Doc}
 */
export function setRisk(doc: Doc, author: Author, risk: string): Doc;
/**
 * Adds a party at the end of the list. Message "party <name> (<role>) added".
 * @param {Doc} doc
 * @param {Author} author
 * @param {NewParty} party
 * @returns {Doc}
 */
export function addParty(doc: Doc, author: Author, party: NewParty): Doc;
/**
 * Removes the party at `index` of the record's `parties` (as readRecord
 * lists them). Message "party <name> removed".
 * @param {Doc} doc
 * @param {Author} author
 * @param {number} index
 * @returns {Doc}
 */
export function removeParty(doc: Doc, author: Author, index: number): Doc;
/**
 * Assigns a cadre to the case. Message "<cadre> assigned".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} cadre
 * @returns {Doc}
 */
export function assign(doc: Doc, author: Author, cadre: string): Doc;
/**
 * Takes a cadre off the case. Message "<cadre> unassigned".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} cadre
 * @returns {Doc}
 */
export function unassign(doc: Doc, author: Author, cadre: string): Doc;
/**
 * Appends an event to the timeline at the author's time and in the author's
 * name. Refused: `reported` (recorded at creation), an escalation without a
 * level, a level on anything else, `satisfied` on anything but a follow-up,
 * an assignment without its assignee (or an assignee on anything else), a
 * supervision without its deadline (or a deadline on anything else), a
 * return or supervision without a note. An assignment also puts the person
 * among the assignees. Message "event 'resolved' added" / "event
 * 'escalated' (town) added" / "event 'assigned' (<person>) added".
 * @param {Doc} doc
 * @param {Author} author
 * @param {NewEvent} event
 * @returns {Doc}
 */
export function addEvent(doc: Doc, author: Author, event: NewEvent): Doc;
/**
 * Marks the case as a duplicate of another (an id), or clears the mark
 * (null). Messages "marked duplicate of <id>" / "duplicate mark cleared".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string|null} original
 * @returns {Doc}
 */
export function setDuplicateOf(doc: Doc, author: Author, original: string | null): Doc;
/**
 * Records that another case is not a duplicate of this one (an official
 * dismissed the suggestion). Message "case <id> marked not a duplicate".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} other
 * @returns {Doc}
 */
export function markNotDuplicate(doc: Doc, author: Author, other: string): Doc;
/**
 * Records that another case is related. Message "related case <id> linked".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} other
 * @returns {Doc}
 */
export function linkRelated(doc: Doc, author: Author, other: string): Doc;
/**
 * Removes the link to a related case. Message "related case <id> unlinked".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} other
 * @returns {Doc}
 */
export function unlinkRelated(doc: Doc, author: Author, other: string): Doc;
/**
 * Records a visit in an empty document (a new one when `doc` is null).
 * Message "visit recorded: <household>".
 * @param {Doc|null} doc
 * @param {Author} author
 * @param {NewVisit} visit
 * @param {{actor?: string}} [options] the actor of a new document
 * @returns {Doc}
 */
export function createVisit(doc: Doc | null, author: Author, visit: NewVisit, options?: {
    actor?: string;
}): Doc;
/**
 * Edits the notes (a collaborative text). Message "notes edited".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} notes
 * @returns {Doc}
 */
export function setNotes(doc: Doc, author: Author, notes: string): Doc;
/**
 * Sets the sentiment; also settles a concurrent disagreement (which
 * otherwise reads as the most severe). Message "sentiment neutral → urgent".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string} sentiment
 * @returns {Doc}
 */
export function setSentiment(doc: Doc, author: Author, sentiment: string): Doc;
/**
 * Makes the topics exactly `topics`: adds the missing ones, removes the
 * others. Topics this version does not know are left alone; a topic another
 * phone adds concurrently stays. Message "topics +health −land".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string[]} topics
 * @returns {Doc}
 */
export function setTopics(doc: Doc, author: Author, topics: string[]): Doc;
/**
 * Records that the visit needs a follow-up, due at `dueAt` if given.
 * Message "follow-up scheduled".
 * @param {Doc} doc
 * @param {Author} author
 * @param {number|null} [dueAt]
 * @returns {Doc}
 */
export function scheduleFollowUp(doc: Doc, author: Author, dueAt?: number | null): Doc;
/**
 * Marks the follow-up done; refused when the visit needs none. Message
 * "follow-up done".
 * @param {Doc} doc
 * @param {Author} author
 * @returns {Doc}
 */
export function markFollowUpDone(doc: Doc, author: Author): Doc;
/**
 * Links the visit to the dispute it gave rise to (an id), or removes the
 * link (null). Messages "linked to dispute <id>" / "link to dispute removed".
 * @param {Doc} doc
 * @param {Author} author
 * @param {string|null} dispute
 * @returns {Doc}
 */
export function linkDispute(doc: Doc, author: Author, dispute: string | null): Doc;
/**
 * Who makes an edit, and when.
 * @typedef {object} Author
 * @property {string} cadre the person id: `createdBy`, the `by` of events
 * @property {number} at milliseconds since the epoch: `createdAt`, the `at`
 *   of events, and the change's time
 */
/**
 * Why an edit was refused. `code`: already_created, not_editable (with
 * `cause` a ReadError), empty, reported_after_creation, missing_level,
 * unexpected_level, unexpected_satisfied, missing_assignee,
 * unexpected_assignee, missing_due, unexpected_due, no_such_party,
 * no_follow_up_needed, bad_value (an input of the wrong type or outside
 * the vocabulary), outdated (the document given was changed since: edit
 * the newest version), document (Automerge refused the change).
 */
export class EditError extends Error {
    /**
     * @param {string} code
     * @param {string} message
     * @param {{field?: string, cause?: unknown}} [details]
     */
    constructor(code: string, message: string, details?: {
        field?: string;
        cause?: unknown;
    });
    code: string;
    field: string;
}
export type Doc = import("@automerge/automerge").Doc<any>;
export type Backend = ReturnType<typeof A.getBackend>;
export type Handle = import("./value.js").Handle;
/**
 * The state of one change in progress: the backend to write with and a
 * reader of the current (pending) state.
 */
export type Tx = {
    h: Backend;
    r: Handle;
};
export type NewParty = {
    name: string;
    /**
     * applicant, respondent, other
     */
    role: string;
    phone?: string | null;
    note?: string | null;
};
export type NewEvent = {
    kind: string;
    /**
     * for an escalation: the level it goes to
     */
    level?: string | null;
    outcome?: string | null;
    note?: string | null;
    /**
     * for a follow-up
     */
    satisfied?: boolean | null;
    /**
     * for an assignment (分派): the person assigned
     */
    assignee?: string | null;
    /**
     * for a supervision (督办): its deadline
     */
    due?: number | null;
};
export type NewDispute = {
    /**
     * a 12-digit village code
     */
    village: string;
    title: string;
    description?: string;
    category: string;
    risk: string;
    parties?: NewParty[];
    /**
     * cadre ids to assign from the start
     */
    assignees?: string[];
};
export type NewVisit = {
    /**
     * a 12-digit village code
     */
    village: string;
    /**
     * milliseconds since the epoch
     */
    visitedAt: number;
    /**
     * a name or a household number
     */
    household: string;
    /**
     * the villagers' group (村民小组)
     */
    group?: string | null;
    topics?: string[];
    sentiment: string;
    notes?: string;
    followUp?: {
        needed: boolean;
        dueAt?: number | null;
    };
    /**
     * the id of a dispute the visit gave rise to
     */
    linkedDispute?: string | null;
};
/**
 * Who makes an edit, and when.
 */
export type Author = {
    /**
     * the person id: `createdBy`, the `by` of events
     */
    cadre: string;
    /**
     * milliseconds since the epoch: `createdAt`, the `at`
     * of events, and the change's time
     */
    at: number;
};
import { A } from '../automerge.js';
