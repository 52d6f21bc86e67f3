// A field app built on the real automerge-repo JavaScript client, driven by
// the end-to-end tests in `tests/tests/js_interop.rs`.
//
// Usage:
//   node peer.mjs create  <ws-url>              creates a dispute, then takes commands
//   node peer.mjs create-empty <ws-url>         creates an empty document (`repo.create()`),
//                                               waits until the server holds it, then
//                                               fills it in with one `change()`, then
//                                               takes commands
//   node peer.mjs find    <ws-url> <doc-url> [<dir>]
//                                               finds a document, then takes commands;
//                                               with <dir>, keeps its documents there
//                                               (NodeFS storage) as an app does between runs
//   node peer.mjs refused <ws-url> <doc-url>    expects to be turned away, then exits
//
// It reports on stdout, one JSON object per line ({"event": ...}), and takes
// commands on stdin, one JSON object per line:
//   {"cmd": "edit", "heads": [...], "risk": "high", "by": "cadre-b", "kind": "note", "at": <ms>}
//       changes the document as of `heads` (so two peers' edits are
//       concurrent whatever the timing), setting the risk and adding an event
//   {"cmd": "wait", "events": 3}
//       waits until the document has that many events and the server
//       holds every local change, then reports heads and content
//   {"cmd": "heads", "heads": [...]}
//       waits until the document is at exactly these heads and the server
//       has told it so, then reports heads and content
//   {"cmd": "quit"}
//
// Every wait is bounded; on failure it reports {"event": "failed", ...} and
// exits non-zero, so the test fails with the reason instead of hanging.

import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import readline from "node:readline"

const [mode, wsUrl, docUrl, storageDir] = process.argv.slice(2)
const WAIT_MS = 15000
const VILLAGE = "500110101001"

function report(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + "\n")
}

function fail(reason) {
  report("failed", { reason: String(reason) })
  process.exit(1)
}

function within(ms, promise, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

async function until(condition, what) {
  const deadline = Date.now() + WAIT_MS
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${WAIT_MS} ms`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

// The server's storage id, from its `peer` message.
function serverStorageId(repo) {
  for (const peerId of repo.peers) {
    const storageId = repo.peerMetadataByPeerId[peerId]?.storageId
    if (storageId) return storageId
  }
  return undefined
}

// Whether the server has acknowledged every local change of the document.
function serverHasAll(repo, handle) {
  const storageId = serverStorageId(repo)
  if (!storageId) return false
  const theirs = handle.getSyncInfo(storageId)?.lastHeads ?? []
  const ours = handle.heads()
  return ours.length === theirs.length && ours.every(h => theirs.includes(h))
}

function newDispute(at) {
  return {
    type: "dispute",
    schema: 1,
    village: VILLAGE,
    createdAt: new Date(at),
    createdBy: "cadre-js-a",
    title: "宅基地边界纠纷（网页端登记）",
    description: "两户因宅基地边界发生争执，需现场勘查后调解。",
    category: "land",
    risk: "low",
    parties: [
      { name: "王五", role: "applicant" },
      { name: "赵六", role: "respondent" },
    ],
    assignees: {},
    events: [{ at: new Date(at), by: "cadre-js-a", kind: "reported" }],
    links: { related: {} },
  }
}

function state(handle) {
  return { heads: [...handle.heads()].sort(), doc: handle.doc() }
}

async function serve(repo, handle) {
  const lines = readline.createInterface({ input: process.stdin })
  for await (const line of lines) {
    if (!line.trim()) continue
    const command = JSON.parse(line)
    switch (command.cmd) {
      case "edit": {
        handle.changeAt(command.heads, doc => {
          doc.risk = command.risk
          doc.events.push({ at: new Date(command.at), by: command.by, kind: command.kind })
        })
        report("edited", { heads: handle.heads() })
        break
      }
      case "wait": {
        await until(() => (handle.doc().events?.length ?? 0) >= command.events, "all events")
        await until(() => serverHasAll(repo, handle), "server acknowledgement")
        report("state", state(handle))
        break
      }
      case "heads": {
        const wanted = [...command.heads].sort()
        const at = () => {
          const ours = [...handle.heads()].sort()
          return ours.length === wanted.length && ours.every((h, i) => h === wanted[i])
        }
        await until(at, "the expected heads")
        await until(() => serverHasAll(repo, handle), "server acknowledgement")
        report("state", state(handle))
        break
      }
      case "quit": {
        await repo.shutdown()
        process.exit(0)
      }
      default:
        fail(`unknown command ${line}`)
    }
  }
}

async function main() {
  const repo = new Repo({
    network: [new WebSocketClientAdapter(wsUrl)],
    ...(storageDir ? { storage: new NodeFSStorageAdapter(storageDir) } : {}),
  })
  switch (mode) {
    case "create": {
      await within(WAIT_MS, repo.networkSubsystem.whenReady(), "connection")
      await until(() => serverStorageId(repo) !== undefined, "handshake")
      const handle = repo.create(newDispute(Date.UTC(2026, 8, 21)))
      await until(() => serverHasAll(repo, handle), "server acknowledgement of the new document")
      report("created", { url: handle.url, ...state(handle) })
      await serve(repo, handle)
      break
    }
    case "create-empty": {
      await within(WAIT_MS, repo.networkSubsystem.whenReady(), "connection")
      await until(() => serverStorageId(repo) !== undefined, "handshake")
      // The ordinary automerge-repo pattern: the empty document syncs
      // first, and its content comes with a later change.
      const handle = repo.create()
      await until(
        () => handle.heads().length > 0 && serverHasAll(repo, handle),
        "server acknowledgement of the empty document",
      )
      report("empty", { url: handle.url, ...state(handle) })
      handle.change(doc => Object.assign(doc, newDispute(Date.UTC(2026, 8, 21))))
      await until(() => serverHasAll(repo, handle), "server acknowledgement of the first change")
      report("created", { url: handle.url, ...state(handle) })
      await serve(repo, handle)
      break
    }
    case "find": {
      const handle = await within(WAIT_MS, repo.find(docUrl), "find")
      report("found", state(handle))
      await serve(repo, handle)
      break
    }
    case "refused": {
      const started = Date.now()
      let outcome
      try {
        await within(WAIT_MS, repo.find(docUrl), "find")
        outcome = "found"
      } catch (e) {
        outcome = String(e.message ?? e)
      }
      const elapsedMs = Date.now() - started
      // Stay past one reconnect attempt of the client (every 5 s): neither
      // the refusal nor the retry may crash the process.
      await new Promise(resolve => setTimeout(resolve, 5500))
      report("refused", { outcome, elapsedMs, peers: repo.peers.length })
      await repo.shutdown()
      process.exit(0)
    }
    default:
      fail(`unknown mode ${mode}`)
  }
}

main().catch(fail)
