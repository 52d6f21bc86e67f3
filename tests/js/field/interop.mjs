// Same protocol, no fork: a Rust phone's record (synced by the Rust test
// before this runs) and an automerge-repo client's record (made here, on the
// WebSocket door) reach the app; the app's new dispute and its event on the
// automerge-repo record reach the automerge-repo client (and, checked by the
// Rust test afterwards, the Rust phone).

import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import { DEVICES, EXTRA, FIELD, SERVER, check, equal, log, newPhone, report, scenario, until } from "./lib.mjs"
import { addEvent, createDispute, enrollByLink, openRecord, syncNow, timelineOf, waitRows, waitSynced, id } from "./app.mjs"

const VILLAGE = FIELD.villages[0]
const JS_TITLE = "赵六与孙七林地界址纠纷（automerge-repo 登记）"
const APP_TITLE = "周永福与吴春梅借款纠纷（手机应用登记）"

function serverStorageId(repo) {
  for (const peerId of repo.peers) {
    const storageId = repo.peerMetadataByPeerId[peerId]?.storageId
    if (storageId) return storageId
  }
  return undefined
}

/// Whether the server acknowledged the handle's heads.
function serverHas(repo, handle) {
  const storageId = serverStorageId(repo)
  if (!storageId) return false
  const theirs = handle.getSyncInfo(storageId)?.lastHeads ?? []
  const ours = handle.heads()
  return ours.length === theirs.length && ours.every(h => theirs.includes(h))
}

scenario("interop", async browser => {
  // The automerge-repo client (Node) records a dispute on the WebSocket door.
  const ws = `${SERVER.replace(/^http/, "ws")}/v1/ws?token=${FIELD.devToken}`
  const repo = new Repo({ network: [new WebSocketClientAdapter(ws)] })
  const at = new Date()
  const handle = repo.create({
    type: "dispute",
    schema: 1,
    village: VILLAGE,
    createdAt: at,
    createdBy: "cadre-js",
    title: JS_TITLE,
    description: "两家林地界址不清，各自砍伐时发生争执。",
    category: "land",
    risk: "low",
    parties: [
      { name: "赵六", role: "applicant" },
      { name: "孙七", role: "respondent" },
    ],
    assignees: {},
    events: [{ at, by: "cadre-js", kind: "reported" }],
    links: { related: {} },
  })
  const fromJs = handle.documentId
  await until(() => serverHas(repo, handle), "the server holds the automerge-repo record")
  log(`automerge-repo made ${fromJs}`)

  // The app receives both.
  const phone = await newPhone(browser, "a")
  const { page } = phone
  await enrollByLink(page, DEVICES.a.link)
  await waitSynced(page)
  const fromRust = EXTRA.fromRust
  const shown = await waitRows(page, [fromRust.id, fromJs], "synced")
  const text = id => shown.find(r => r.id === id)?.text ?? ""
  check(text(fromRust.id).includes(fromRust.title), `the Rust phone's title in the list: ${text(fromRust.id)}`)
  check(text(fromJs).includes(JS_TITLE), `the automerge-repo title in the list: ${text(fromJs)}`)

  // The app records a dispute, and adds an event to the automerge-repo one.
  const dispute = await createDispute(page, {
    title: APP_TITLE,
    description: "借款到期未还，双方对利息约定说法不一。",
    category: "debt",
    risk: "medium",
    parties: [
      { name: "周永福", role: "applicant" },
      { name: "吴春梅", role: "respondent" },
    ],
  })
  await openRecord(page, fromJs)
  equal(await id(page, "record-title").textContent(), JS_TITLE, "the automerge-repo record opens in the app")
  await addEvent(page, { kind: "mediation", note: "在手机应用上记录的调解。" })
  await syncNow(page)
  await waitRows(page, [dispute, fromJs], "synced")

  // The automerge-repo client finds the app's dispute, and sees the app's
  // event on its own record.
  const found = await repo.find(`automerge:${dispute}`)
  equal(found.doc().title, APP_TITLE, "the automerge-repo client reads the app's dispute")
  log(`automerge-repo peers: ${JSON.stringify(repo.peers)}`)
  try {
    // Scalar strings (the event kind) read as ImmutableString in Automerge 3.
    await until(() => (handle.doc().events ?? []).some(e => String(e.kind) === "mediation"), "the app's event reaches the automerge-repo client")
  } catch (error) {
    // What a fresh client gets, to tell a missed notice from a lost edit.
    const fresh = new Repo({ network: [new WebSocketClientAdapter(ws)] })
    const again = await fresh.find(`automerge:${fromJs}`)
    log(`the open client has events ${JSON.stringify(handle.doc().events.map(e => e.kind))}, heads ${handle.heads()}`)
    log(`a fresh client finds events ${JSON.stringify(again.doc().events.map(e => e.kind))}, heads ${again.heads()}`)
    throw error
  }
  const events = handle.doc().events.map(e => String(e.kind))
  log(`automerge-repo now has events ${events}`)
  await repo.shutdown()

  // And the app shows the Rust phone's record in full.
  await openRecord(page, fromRust.id)
  equal(await id(page, "record-title").textContent(), fromRust.title, "the Rust phone's record opens in the app")
  check((await timelineOf(page)).length >= 1, "the Rust phone's timeline")
  report("created", { dispute, title: APP_TITLE, fromJs })
})
