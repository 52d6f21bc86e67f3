// The one place the library gets Automerge from.
//
// The library uses the "slim" build of @automerge/automerge, whose WASM
// module is loaded explicitly by `init()`: browsers fetch it from the app's
// own origin (the CSP allows 'wasm-unsafe-eval' but no inline or remote
// code), Node reads it from the installed package.
import * as A from '@automerge/automerge/slim';

export { A };

/** @type {Promise<void> | null} */
let initializing = null;

/**
 * Initializes the Automerge WASM module once. Later calls return the same
 * promise (or resolve at once).
 *
 * @param {string | URL | Response | BufferSource | WebAssembly.Module} [source]
 *   where the `automerge.wasm` file is: a URL (fetched), a `Response`, its
 *   bytes, or a compiled module. In Node, with no argument, it is read from
 *   `@automerge/automerge/automerge.wasm` on disk.
 * @returns {Promise<void>}
 */
export function init(source) {
  if (A.isWasmInitialized()) return Promise.resolve();
  if (!initializing) {
    initializing = (async () => {
      let input = source;
      if (input === undefined) input = await readWasmFromDisk();
      if (typeof input === 'string') input = new URL(input, globalThis.location?.href);
      await A.initializeWasm(/** @type {any} */ (input));
    })();
    initializing.catch(() => {
      initializing = null;
    });
  }
  return initializing;
}

/** Whether `init()` has completed. */
export function isInitialized() {
  return A.isWasmInitialized();
}

async function readWasmFromDisk() {
  const isNode = !!(/** @type {any} */ (globalThis).process?.versions?.node);
  if (!isNode) {
    throw new Error(
      'init(): pass the URL or bytes of automerge.wasm (in a browser it cannot be found by itself)',
    );
  }
  // Names built at run time so that browser bundlers leave them alone.
  const fsName = 'node:fs/promises';
  const urlName = 'node:url';
  const { readFile } = await import(/* @vite-ignore */ fsName);
  const { fileURLToPath } = await import(/* @vite-ignore */ urlName);
  const where = import.meta.resolve('@automerge/automerge/automerge.wasm');
  return new Uint8Array(await readFile(fileURLToPath(where)));
}
