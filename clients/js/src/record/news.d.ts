/**
 * What changed between `before` (the record as this phone held it) and
 * `after` (the record once others' changes were merged), as seen by
 * `me` (the person holding this phone: their own events are not news).
 * Null when nothing worth telling changed, or when there was no record
 * before.
 * @param {import('@automerge/automerge').Doc<unknown>|null} before
 * @param {import('@automerge/automerge').Doc<unknown>} after
 * @param {string} me
 * @returns {News|null}
 */
export function describeMerge(before: import("@automerge/automerge").Doc<unknown> | null, after: import("@automerge/automerge").Doc<unknown>, me: string): News | null;
export type AddedEvent = {
    /**
     * the person who recorded it
     */
    by: string;
    kind: string;
    at: number;
    /**
     * for an escalation
     */
    level?: string;
    /**
     * for an assignment (分派): the person assigned
     */
    assignee?: string;
    /**
     * for a supervision (督办): its deadline
     */
    due?: number;
};
export type News = {
    /**
     * events the merge brought, by others, in timeline order
     */
    eventsAdded: AddedEvent[];
    statusBefore: string | null;
    statusAfter: string | null;
    /**
     * the level in effect when escalated
     */
    levelBefore: string | null;
    levelAfter: string | null;
    /**
     * the closed-loop stage
     */
    stageBefore: string | null;
    stageAfter: string | null;
    riskBefore: string | null;
    riskAfter: string | null;
    /**
     * the risks phones disagreed on (mildest first; the highest counts)
     */
    riskConflict: string[] | null;
    sentimentBefore: string | null;
    sentimentAfter: string | null;
    /**
     * the sentiments phones disagreed on (the most severe counts)
     */
    sentimentConflict: string[] | null;
};
