// The benchmark page of the field client library: `@fengqiao/client` with
// its IndexedDB store, exactly as the app uses it, without the app's UI.
// Bundled by ../field_browser.mjs with esbuild and served on the server's
// own origin; the driver calls `window.bench.*` and reads the answers.

import { FieldClient, init, openIdbStore } from "@fengqiao/client"

async function open() {
  await init("/bench/automerge.wasm")
  const store = await openIdbStore()
  return FieldClient.open({ store, autoSync: false })
}

async function finishSync(client) {
  const report = await client.syncNow()
  const error = client.status.error
  if (error) throw new Error(`sync: ${error.code}: ${error.message}`)
  return report
}

window.bench = {
  /// A fresh phone: set up from the payload, then sync until the server has
  /// nothing more. Times both together, as a cadre waits for both.
  async bootstrap(setupText) {
    const started = performance.now()
    const client = await open()
    await client.setup(setupText)
    const report = await finishSync(client)
    const ms = performance.now() - started
    const records = (await client.list({})).length
    return { ms, records, report: JSON.parse(JSON.stringify(report ?? null)) }
  },
  /// The same phone after a restart (a new page on the same IndexedDB):
  /// opens its store and syncs; nothing changed on the server.
  async reconnect() {
    const started = performance.now()
    const client = await open()
    const report = await finishSync(client)
    const ms = performance.now() - started
    const records = (await client.list({})).length
    return { ms, records, report: JSON.parse(JSON.stringify(report ?? null)) }
  },
  async storage() {
    return storageEstimate()
  },
}

async function storageEstimate() {
  const estimate = await navigator.storage.estimate()
  return { usage: estimate.usage, indexedDB: estimate.usageDetails?.indexedDB ?? null }
}
