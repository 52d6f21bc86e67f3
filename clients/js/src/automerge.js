// Automerge for the whole library: the slim build, whose WASM is loaded by
// `init`. Every module imports Automerge from here.
import * as A from '@automerge/automerge/slim';

export { A };

/**
 * Loads the Automerge WASM module. In a browser pass its URL, a Request or its
 * bytes; in Node, without an argument, the module shipped in the npm package is
 * read from disk.
 * @param {string|URL|Uint8Array|Request|Promise<Uint8Array>} [source]
 * @returns {Promise<void>}
 */
export async function init(source) {
  if (A.isWasmInitialized()) return;
  if (source === undefined) {
    const { readFile } = await import('node:fs/promises');
    const { createRequire } = await import('node:module');
    const require = createRequire(import.meta.url);
    const path = require.resolve('@automerge/automerge/automerge.wasm');
    source = new Uint8Array(await readFile(path));
  }
  if (source instanceof URL) source = source.href;
  await A.initializeWasm(source);
}
