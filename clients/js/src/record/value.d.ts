/**
 * Reads of the document's current version, pending edits of a change in
 * progress included.
 * @param {Backend} h
 * @returns {Handle}
 */
export function liveReader(h: Backend): Handle;
/**
 * Reads of the version of the document `doc` is.
 * @param {import('@automerge/automerge').Doc<unknown>} doc
 * @returns {Handle}
 */
export function handleOf(doc: import("@automerge/automerge").Doc<unknown>): Handle;
/**
 * Runs `fn` with reads of the version of the document `doc` is. An old
 * version is copied out first (reads of history are several times slower
 * than reads of a current copy when a check reads every field).
 * @template T
 * @param {import('@automerge/automerge').Doc<unknown>} doc
 * @param {(r: Handle) => T} fn
 * @returns {T}
 */
export function withReader<T>(doc: import("@automerge/automerge").Doc<unknown>, fn: (r: Handle) => T): T;
/**
 * Compares two operation ids ("counter@actor") as Automerge orders them:
 * by counter, then by actor bytes.
 * @param {string} a
 * @param {string} b
 */
export function compareOpIds(a: string, b: string): 0 | 1 | -1;
/**
 * Every concurrent value of `prop` in `obj`, ordered by the id of the
 * operation that wrote it (the last one is Automerge's winner). Empty when
 * the field is absent or `obj` is not a container that has it.
 * @param {Handle} h
 * @param {ObjId} obj
 * @param {string|number} prop
 * @returns {Item[]}
 */
export function all(h: Handle, obj: ObjId, prop: string | number): Item[];
/**
 * The value Automerge shows: the one written by the greatest operation id.
 * @param {Handle} h
 * @param {ObjId} obj
 * @param {string|number} prop
 * @returns {Item|undefined}
 */
export function winner(h: Handle, obj: ObjId, prop: string | number): Item | undefined;
/**
 * The winning value of a string field, if it is a string.
 * @param {Handle} h
 * @param {ObjId} obj
 * @param {string} key
 * @returns {string|null}
 */
export function string(h: Handle, obj: ObjId, key: string): string | null;
/**
 * The winning value of a time field, if it is a time.
 * @param {Handle} h
 * @param {ObjId} obj
 * @param {string} key
 * @returns {number|null}
 */
export function millis(h: Handle, obj: ObjId, key: string): number | null;
/**
 * Every concurrent map stored under `prop`.
 * @param {Handle} h
 * @param {ObjId} obj
 * @param {string|number} prop
 * @returns {ObjId[]}
 */
export function maps(h: Handle, obj: ObjId, prop: string | number): ObjId[];
/**
 * Every concurrent list stored under `prop`.
 * @param {Handle} h
 * @param {ObjId} obj
 * @param {string|number} prop
 * @returns {ObjId[]}
 */
export function lists(h: Handle, obj: ObjId, prop: string | number): ObjId[];
/**
 * The winning map under `prop`, if the winner is a map.
 * @param {Handle} h
 * @param {ObjId} obj
 * @param {string|number} prop
 * @returns {ObjId|null}
 */
export function winningMap(h: Handle, obj: ObjId, prop: string | number): ObjId | null;
/**
 * The winning list under `prop`, if the winner is a list.
 * @param {Handle} h
 * @param {ObjId} obj
 * @param {string|number} prop
 * @returns {ObjId|null}
 */
export function winningList(h: Handle, obj: ObjId, prop: string | number): ObjId | null;
/**
 * The keys of a map object (empty when it is not a map).
 * @param {Handle} h
 * @param {ObjId} obj
 * @returns {string[]}
 */
export function keys(h: Handle, obj: ObjId): string[];
/**
 * The number of elements of a list object.
 * @param {Handle} h
 * @param {ObjId} obj
 * @returns {number}
 */
export function length(h: Handle, obj: ObjId): number;
/**
 * Milliseconds since the epoch as an exact bigint, from any of the numeric
 * forms clients write; a float must be finite and in range and is
 * truncated. `undefined` for a timestamp outside what a JS Date can show
 * (a time, but of unknown value); `null` when the value is no time.
 * @param {Item} item
 * @returns {bigint|null|undefined}
 */
export function asMillisExact(item: Item): bigint | null | undefined;
/**
 * Whether the value reads as a time.
 * @param {Item} item
 */
export function isTime(item: Item): boolean;
/**
 * Milliseconds since the epoch (a JS number), or null when the value is no
 * time this library can use.
 * @param {Item} item
 * @returns {number|null}
 */
export function asMillis(item: Item): number | null;
/**
 * A whole number, from an integer or an integral float.
 * @param {Item} item
 * @returns {bigint|null}
 */
export function asInteger(item: Item): bigint | null;
/**
 * @param {Item} item
 * @returns {boolean|null}
 */
export function asBool(item: Item): boolean | null;
/**
 * What kind of value this is, in words for messages.
 * @param {Item} item
 */
export function typeName(item: Item): "null" | "bytes" | "a string" | "an integer" | "a number" | "a timestamp" | "a boolean" | "a counter" | "a map" | "a list" | "a value of unknown type";
/**
 * A short rendering for messages about changed values.
 * @param {Item} item
 * @returns {string}
 */
export function describe(item: Item): string;
/**
 * A float as Rust's `{}` writes it: the shortest digits that read back,
 * never in exponent notation; `inf`, `-inf`, `NaN`, `-0`.
 * @param {number} f
 */
export function rustFloat(f: number): string;
/**
 * Whether two items are the same value (Rust `Item == Item`): strings by
 * content, objects by id, floats by IEEE equality.
 * @param {Item} a
 * @param {Item} b
 */
export function itemEquals(a: Item, b: Item): boolean;
/**
 * The number of characters (Unicode scalar values) of a string, as Rust's
 * `chars().count()`.
 * @param {string} text
 */
export function charCount(text: string): number;
/**
 * At most 64 characters of `text`, with "…" when cut.
 * @param {string} text
 */
export function shorten(text: string): string;
/**
 * `str::trim` as Rust does it.
 * @param {string} text
 */
export function rustTrim(text: string): string;
/**
 * Whether a string is empty or only white space (Rust `trim().is_empty()`).
 * @param {string} text
 */
export function isBlank(text: string): boolean;
/**
 * Compares strings by code points, as Rust orders `String`s (byte order of
 * UTF-8), not by UTF-16 units as `<` does.
 * @param {string} a
 * @param {string} b
 */
export function compareStrings(a: string, b: string): 0 | 1 | -1;
/**
 * A string as Rust's `format!("{:?}", text)` writes it, quotes included.
 * @param {string} text
 */
export function rustDebug(text: string): string;
/**
 * One value of a field.
 * - `str`: a scalar string or the content of a Text object (`text` says which)
 * - `int`, `uint`: `v` is a bigint; `f64`, `counter`: a number;
 *   `timestamp`: milliseconds as a number (`null` when outside what a JS
 *   Date can hold: still a time, of unknown value)
 * - `bool`, `null`, `bytes`, `unknown`
 * - `map`, `list`: `id` is the object id
 * `id` is always the id of the operation that wrote the value.
 */
export type Item = {
    t: "str";
    v: string;
    id: string;
    text: boolean;
} | {
    t: "int" | "uint";
    v: bigint;
    id: string;
} | {
    t: "f64" | "counter";
    v: number;
    id: string;
} | {
    t: "timestamp";
    v: number | null;
    id: string;
} | {
    t: "bool";
    v: boolean;
    id: string;
} | {
    t: "null" | "bytes" | "unknown" | "map" | "list";
    v?: undefined;
    id: string;
};
export type Backend = ReturnType<typeof A.getBackend>;
export type ObjId = string;
/**
 * Reads of one version of a document through its low-level handle. An
 * Automerge document that has been changed since keeps sharing its handle
 * with the newer one; its reads then go through its own heads.
 */
export type Handle = {
    getAll: (obj: ObjId, prop: string | number) => any[];
    keys: (obj: ObjId) => string[];
    length: (obj: ObjId) => number;
    text: (obj: ObjId) => string;
    getWithType: (obj: ObjId, prop: string | number) => any;
    materialize: (obj: ObjId) => any;
    /**
     * whether this is the handle's current version
     */
    latest: boolean;
};
import { A } from '../automerge.js';
