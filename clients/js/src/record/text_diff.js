// Turning "the text is now this" into the smallest set of character
// splices, so that concurrent edits of the same text merge character-wise
// (a port of shared/src/record/text_diff.rs: Myers' O(ND) algorithm after
// trimming the common prefix and suffix, over Unicode characters, with a
// bounded edit distance beyond which the middle is replaced as one block).

/** Edit distance beyond which the middle is replaced as one block. */
const MAX_EDIT_DISTANCE = 1000;

/**
 * Replace `del` characters of the old text, starting at character `at`,
 * with `insert`.
 * @typedef {{at: number, del: number, insert: string}} Splice
 */

/**
 * The splices that turn `old` into `new`, ascending and not overlapping;
 * apply them from last to first.
 * @param {string} oldText
 * @param {string} newText
 * @returns {Splice[]}
 */
export function diff(oldText, newText) {
  const a = Array.from(oldText);
  const b = Array.from(newText);
  let prefix = 0;
  while (prefix < a.length && prefix < b.length && a[prefix] === b[prefix]) prefix++;
  let suffix = 0;
  while (
    suffix < a.length - prefix &&
    suffix < b.length - prefix &&
    a[a.length - 1 - suffix] === b[b.length - 1 - suffix]
  ) {
    suffix++;
  }
  const aMid = a.slice(prefix, a.length - suffix);
  const bMid = b.slice(prefix, b.length - suffix);
  if (aMid.length === 0 && bMid.length === 0) return [];
  const whole = () => [{ at: prefix, del: aMid.length, insert: bMid.join('') }];
  if (aMid.length === 0 || bMid.length === 0) return whole();
  const script = editScript(aMid, bMid, MAX_EDIT_DISTANCE);
  return script === null ? whole() : group(script, bMid, prefix);
}

/**
 * One step: delete old character `old`, or insert new character `nu` before
 * old position `old`.
 * @typedef {{del: true, old: number} | {del: false, old: number, nu: number}} Step
 */

/**
 * A shortest edit script from `a` to `b`, or null beyond `maxDistance`.
 * @param {string[]} a
 * @param {string[]} b
 * @param {number} maxDistance
 * @returns {Step[]|null}
 */
function editScript(a, b, maxDistance) {
  const n = a.length;
  const m = b.length;
  const bound = Math.min(maxDistance, n + m);
  /** @type {Int32Array[]} */
  const trace = [];
  for (let d = 0; d <= bound; d++) {
    const row = new Int32Array(2 * d + 1);
    const prev = d === 0 ? null : trace[d - 1];
    for (let k = -d; k <= d; k += 2) {
      let x;
      if (prev === null) {
        x = 0;
      } else {
        const at = (/** @type {number} */ kk) => prev[kk + d - 1];
        x = k === -d || (k !== d && at(k - 1) < at(k + 1)) ? at(k + 1) : at(k - 1) + 1;
      }
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      row[k + d] = x;
      if (x >= n && y >= m) {
        trace.push(row);
        return backtrack(trace, n, m);
      }
    }
    trace.push(row);
  }
  return null;
}

/**
 * @param {Int32Array[]} trace
 * @param {number} n
 * @param {number} m
 * @returns {Step[]}
 */
function backtrack(trace, n, m) {
  /** @type {Step[]} */
  const steps = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 1; d--) {
    const prev = trace[d - 1];
    const at = (/** @type {number} */ kk) => prev[kk + d - 1];
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const prevK = down ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    steps.push(down ? { del: false, old: prevX, nu: prevY } : { del: true, old: prevX });
    x = prevX;
    y = prevY;
  }
  return steps.reverse();
}

/**
 * Groups adjacent steps into splices, shifting positions by `offset`.
 * @param {Step[]} steps
 * @param {string[]} b
 * @param {number} offset
 * @returns {Splice[]}
 */
function group(steps, b, offset) {
  /** @type {Splice[]} */
  const splices = [];
  let end = -1;
  for (const step of steps) {
    const deleted = step.del ? 1 : 0;
    const inserted = 'nu' in step ? b[step.nu] : '';
    const last = splices[splices.length - 1];
    if (last !== undefined && step.old === end) {
      last.del += deleted;
      last.insert += inserted;
    } else {
      splices.push({ at: step.old + offset, del: deleted, insert: inserted });
    }
    end = step.old + deleted;
  }
  return splices;
}

/**
 * Applies splices to a plain string (a check, and for tests).
 * @param {string} oldText
 * @param {Splice[]} splices
 */
export function applySplices(oldText, splices) {
  const chars = Array.from(oldText);
  for (let i = splices.length - 1; i >= 0; i--) {
    const s = splices[i];
    chars.splice(s.at, s.del, ...Array.from(s.insert));
  }
  return chars.join('');
}
