// The benchmark page of the official automerge-repo client in a browser:
// `@automerge/automerge-repo` 2.5.6 with its WebSocket network adapter and
// IndexedDB storage adapter, on Fengqiao's WebSocket door. Bundled by
// ../field_browser.mjs with esbuild and served on the server's own origin.

import { Repo, initializeWasm } from "@automerge/automerge-repo/slim"
import { BrowserWebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import { IndexedDBStorageAdapter } from "@automerge/automerge-repo-storage-indexeddb"

const STORE = "fengqiao-bench-repo"

async function openRepo(wsUrl) {
  await initializeWasm(await fetch("/bench/automerge.wasm"))
  return new Repo({
    network: [new BrowserWebSocketClientAdapter(wsUrl)],
    storage: new IndexedDBStorageAdapter(STORE),
    // The default share policy, as a browser app has it: every document it
    // holds is synced with the server when it connects.
  })
}

function serverStorageId(repo) {
  for (const peerId of repo.peers) {
    const storageId = repo.peerMetadataByPeerId[peerId]?.storageId
    if (storageId) return storageId
  }
  return undefined
}

/// Whether the server's last word on the document is our heads.
function inSync(repo, handle) {
  const storageId = serverStorageId(repo)
  if (!storageId) return false
  const theirs = handle.getSyncInfo(storageId)?.lastHeads ?? []
  const ours = handle.heads()
  return ours.length > 0 && ours.length === theirs.length && ours.every(h => theirs.includes(h))
}

async function until(condition, ms) {
  const deadline = performance.now() + ms
  while (!condition()) {
    if (performance.now() > deadline) return false
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  return true
}

/// Finds every id, then waits until every document is ready and the server
/// has confirmed it holds the same heads.
async function findAll(wsUrl, ids, limitMs) {
  const started = performance.now()
  const repo = await openRepo(wsUrl)
  const handles = await Promise.all(ids.map(id => repo.find(`automerge:${id}`)))
  const readyMs = performance.now() - started
  const confirmed = await until(() => handles.every(h => inSync(repo, h)), limitMs)
  const ms = performance.now() - started
  const missing = handles.filter(h => !h.isReady()).length
  const unconfirmed = handles.filter(h => !inSync(repo, h)).length
  // Whatever automerge-repo still has to write goes to IndexedDB now.
  await repo.flush()
  window.repo = repo
  return { ms, readyMs, confirmed, records: handles.length - missing, unconfirmed }
}

window.bench = {
  bootstrap: (wsUrl, ids, limitMs) => findAll(wsUrl, ids, limitMs),
  reconnect: (wsUrl, ids, limitMs) => findAll(wsUrl, ids, limitMs),
  async storage() {
    const estimate = await navigator.storage.estimate()
    return { usage: estimate.usage, indexedDB: estimate.usageDetails?.indexedDB ?? null }
  },
}
