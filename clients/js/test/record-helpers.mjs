// Helpers shared by the record tests (no tests here).
import { readFileSync } from 'node:fs';
import { A, init } from '../src/automerge.js';

export { A, init };

/** A cadre's edit at a time. */
export const at = (cadre, ms) => ({ cadre, at: ms });

/** Milliseconds of an ISO time. */
export const ms = (iso) => Date.parse(iso);

/** The saved bytes of a Rust-written fixture, loaded. */
export function fixture(name) {
  return A.load(new Uint8Array(readFileSync(new URL(`./record-fixtures/${name}`, import.meta.url))));
}

function opOrder(a, b) {
  const id = (r) => (r.length >= 3 ? r[2] : r[1]);
  const [ca, xa] = id(a).split('@');
  const [cb, xb] = id(b).split('@');
  return Number(ca) - Number(cb) || (xa < xb ? -1 : xa > xb ? 1 : 0);
}

/**
 * The whole content of a document with the Automerge type of every value
 * (scalar string vs Text, timestamp vs integer, …) and every concurrent
 * value, without operation ids: two documents written the same way by
 * different programs have the same shape.
 */
export function shape(doc) {
  const b = A.getBackend(doc);
  const heads = A.getHeads(doc);
  const h = {
    keys: (o) => b.keys(o, heads),
    getAll: (o, p) => b.getAll(o, p, heads),
    length: (o) => b.length(o, heads),
    text: (o) => b.text(o, heads),
  };
  const value = (raw) => {
    const [type, v] = raw;
    switch (type) {
      case 'map':
        return ['map', Object.fromEntries(h.keys(v).map((k) => [k, h.getAll(v, k).sort(opOrder).map(value)]))];
      case 'list': {
        const items = [];
        for (let i = 0; i < h.length(v); i++) items.push(h.getAll(v, i).sort(opOrder).map(value));
        return ['list', items];
      }
      case 'text':
        return ['text', h.text(v)];
      case 'timestamp':
        return ['timestamp', v.getTime()];
      case 'int':
      case 'uint':
        return [type, String(v)];
      default:
        return [type, v];
    }
  };
  return value(['map', '_root']);
}

/** The time, message and number of operations of every change, in order. */
export function changes(doc) {
  return A.getAllChanges(A.clone(doc))
    .map((c) => A.decodeChange(c))
    .map((c) => [c.time, c.message, c.ops.length]);
}

/** A random document id (base58check of 16 bytes). */
export async function randomId() {
  const { default: bs58check } = await import('bs58check');
  return bs58check.encode(crypto.getRandomValues(new Uint8Array(16)));
}

/** A seeded random integer source: `rand(n)` is in [0, n) (mulberry32). */
export function seeded(seed) {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}
