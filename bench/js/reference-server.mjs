// The automerge-repo sync server, as the comparison benchmark runs it.
//
// Configured like the official automerge-repo sync server: NodeFS storage
// in the given directory, a stable peer id, `sharePolicy: async () => false`
// (announce nothing; peers sync the documents they name), and a plain `ws`
// WebSocketServer. Listens on 127.0.0.1 only.
//
// Usage: node reference-server.mjs --data DIR [--port 0]
// Prints `reference serving on ws://127.0.0.1:PORT/` once it listens.

import { mkdirSync } from "node:fs"
import { WebSocketServer } from "ws"
import { Repo } from "@automerge/automerge-repo"
import { NodeWSServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`)
  return at >= 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback
}

const dir = option("data")
if (!dir) {
  console.error("usage: node reference-server.mjs --data DIR [--port PORT]")
  process.exit(2)
}
mkdirSync(dir, { recursive: true })

const wss = new WebSocketServer({ host: "127.0.0.1", port: Number(option("port", "0")) })
const repo = new Repo({
  network: [new NodeWSServerAdapter(wss)],
  storage: new NodeFSStorageAdapter(dir),
  peerId: "storage-server-bench",
  sharePolicy: async () => false,
})

wss.on("listening", () => {
  console.log(`reference serving on ws://127.0.0.1:${wss.address().port}/`)
})

async function stop() {
  wss.close()
  await repo.shutdown()
  process.exit(0)
}
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
