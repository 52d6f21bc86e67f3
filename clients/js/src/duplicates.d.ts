/**
 * The disputes of `summaries` that may be the same case as the draft, with
 * why each is offered (the names they share, the category, how many days
 * apart), oldest first (creation time, then id).
 * @param {Draft} draft
 * @param {Iterable<Summary>} summaries
 * @returns {Array<{id: string, summary: Summary, sharedNames: string[], category: string|null, daysApart: number}>}
 */
export function duplicateMatches(draft: Draft, summaries: Iterable<Summary>): Array<{
    id: string;
    summary: Summary;
    sharedNames: string[];
    category: string | null;
    daysApart: number;
}>;
/**
 * The ids of the disputes that may be the same case as the draft (the
 * server's duplicate rule), oldest first.
 * @param {Draft} draft
 * @param {Iterable<Summary>} summaries
 * @returns {string[]}
 */
export function possibleDuplicates(draft: Draft, summaries: Iterable<Summary>): string[];
/** shared/src/stats/mod.rs DUPLICATE_WINDOW_DAYS, unless the schema carries it. */
export const DUPLICATE_WINDOW_DAYS: any;
export type Summary = import("./record/summary.js").Summary;
export type Draft = {
    village: string;
    /**
     * the dispute's category; while none is
     * chosen yet, cases of every category are offered
     */
    category?: string | null;
    parties: Array<{
        name: string;
    }>;
    /**
     * when it is reported (default: now)
     */
    reportedAt?: number;
    /**
     * the draft's own id, never offered as its duplicate
     */
    id?: string;
    /**
     * cases already judged not to be
     * duplicates of the draft (an existing case's own marks)
     */
    notDuplicates?: string[];
};
