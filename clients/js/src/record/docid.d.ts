/**
 * Why `text` is not a document id, worded as the Rust `IdError`, or null
 * when it is one.
 * @param {string} text
 * @returns {string|null}
 */
export function documentIdProblem(text: string): string | null;
/**
 * Whether `text` is a document id.
 * @param {unknown} text
 * @returns {text is string}
 */
export function isDocumentId(text: unknown): text is string;
/**
 * The bytes a document id stands for (null when it is not one).
 * @param {string} text
 * @returns {Uint8Array|null}
 */
export function documentIdBytes(text: string): Uint8Array | null;
