/**
 * Why `code` is not a village code, worded as the Rust `DivisionError`, or
 * null when it is one.
 * @param {string} code
 * @returns {string|null}
 */
export function villageCodeProblem(code: string): string | null;
/**
 * Whether `code` is a valid village code.
 * @param {unknown} code
 * @returns {code is string}
 */
export function isVillageCode(code: unknown): code is string;
