// Village codes (统计用区划代码), checked as protocol/src/division.rs does:
// 12 digits, a province part that is not 00, town and village parts that are
// not all zeros.

/**
 * Why `code` is not a village code, worded as the Rust `DivisionError`, or
 * null when it is one.
 * @param {string} code
 * @returns {string|null}
 */
export function villageCodeProblem(code) {
  const kind = 'village';
  const expected = 12;
  const short = [...code].slice(0, 32).join('');
  if (new TextEncoder().encode(code).length !== expected) {
    return `${kind} code ${JSON.stringify(short)} must have exactly ${expected} digits`;
  }
  if (!/^[0-9]{12}$/.test(code)) {
    return `${kind} code ${JSON.stringify(short)} may contain only the digits 0-9`;
  }
  for (const [from, to, part] of /** @type {const} */ ([
    [0, 2, 'province'],
    [6, 9, 'town'],
    [9, 12, 'village'],
  ])) {
    if (/^0+$/.test(code.slice(from, to))) {
      return `${kind} code ${JSON.stringify(code)} has an all-zero ${part} part, which names no real place`;
    }
  }
  return null;
}

/**
 * Whether `code` is a valid village code.
 * @param {unknown} code
 * @returns {code is string}
 */
export function isVillageCode(code) {
  return typeof code === 'string' && villageCodeProblem(code) === null;
}
