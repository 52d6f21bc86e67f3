/**
 * Reads a record the fast way. Throws ReadError for what is not a record,
 * GiveUp when the field-by-field reading must decide.
 * @param {import('./value.js').Handle} r
 * @param {(code: string, message: string, field?: string) => Error} readError
 */
export function readFast(r: import("./value.js").Handle, readError: (code: string, message: string, field?: string) => Error): {
    kind: string;
    header: import("./read.js").Header;
    title: string;
    description: string;
    category: string;
    risk: string;
    parties: import("./read.js").Party[];
    assignees: string[];
    events: import("./status.js").Event[];
    timeline: import("./status.js").Event[];
    duplicateOf: string;
    related: string[];
    notDuplicates: string[];
    status: string;
    escalationLevel: string;
    maxEscalationLevel: string;
    resolvedAt: number;
    stage: string;
    stageSince: number;
    handlingLevel: string;
    supervisionDue: number;
    lastActivity: number;
    visitedAt?: undefined;
    household?: undefined;
    group?: undefined;
    topics?: undefined;
    sentiment?: undefined;
    notes?: undefined;
    followUp?: undefined;
    linkedDispute?: undefined;
} | {
    kind: string;
    header: import("./read.js").Header;
    visitedAt: number;
    household: string;
    group: string;
    topics: string[];
    sentiment: string;
    notes: string;
    followUp: {
        needed: boolean;
        done: boolean;
        dueAt: number;
    };
    linkedDispute: string;
    lastActivity: number;
    title?: undefined;
    description?: undefined;
    category?: undefined;
    risk?: undefined;
    parties?: undefined;
    assignees?: undefined;
    events?: undefined;
    timeline?: undefined;
    duplicateOf?: undefined;
    related?: undefined;
    notDuplicates?: undefined;
    status?: undefined;
    escalationLevel?: undefined;
    maxEscalationLevel?: undefined;
    resolvedAt?: undefined;
    stage?: undefined;
    stageSince?: undefined;
    handlingLevel?: undefined;
    supervisionDue?: undefined;
};
/** Thrown when the fast reading cannot be sure; the caller reads field by field. */
export class GiveUp extends Error {
}
