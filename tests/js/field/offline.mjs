// No signal: after the first load the network goes off; the cadre records a
// dispute and a visit and adds events; the page is reloaded still offline
// and the app opens with the records (not yet sent); the network returns
// and they sync by themselves. The Rust test then asks the server's API and
// a Rust phone for them.

import { DEVICES, check, equal, log, newPhone, report, scenario, setOffline, until } from "./lib.mjs"
import {
  addEvent,
  createDispute,
  createVisit,
  enrollByLink,
  id,
  openRecord,
  rows,
  timelineOf,
  waitOfflineReady,
  waitRows,
  waitSynced,
} from "./app.mjs"

const a = DEVICES.a
const TITLE = "张德明与李秀英宅基地边界纠纷（离线登记）"
const HOUSEHOLD = "王桂芳家"

scenario("offline", async browser => {
  const phone = await newPhone(browser, "a")
  const { page } = phone
  await enrollByLink(page, a.link)
  await waitSynced(page)
  await waitOfflineReady(page)

  await setOffline(phone, true)
  await until(async () => (await id(page, "sync-state").getAttribute("data-online")) === "false", "the app says it is offline")

  const dispute = await createDispute(page, {
    title: TITLE,
    // Typed with pinyin, as most cadres type.
    titleWords: [
      ["zhangdeming", "张德明"],
      ["yu", "与"],
      ["lixiuying", "李秀英"],
      ["zhaijidi", "宅基地"],
      ["bianjie", "边界"],
      ["jiufen", "纠纷"],
      ["", "（离线登记）"],
    ],
    description: "两户因宅基地边界发生争执，双方各执一词，需现场勘查后调解。",
    category: "land",
    risk: "medium",
    parties: [
      { name: "张德明", role: "applicant", phone: "13800000001" },
      { name: "李秀英", role: "respondent" },
    ],
  })
  await addEvent(page, { kind: "mediation", note: "双方到村委会调解，约定补充材料。" })
  await addEvent(page, { kind: "note", note: "下周再次上门了解情况。" })
  const events = ["mediation", "note"]

  const visit = await createVisit(page, {
    household: HOUSEHOLD,
    group: "3组",
    topics: ["livelihood"],
    sentiment: "concern",
    notes: "老人看病难，希望村里协调医保报销。",
    followUpDue: "2030-01-15",
  })

  // Reload with the network still off: the service worker opens the app,
  // IndexedDB still has both records, not yet sent.
  await page.reload()
  await id(page, "nav").waitFor()
  equal(await id(page, "sync-state").getAttribute("data-online"), "false", "offline after the reload")
  const offline = await waitRows(page, [dispute, visit], "unsent")
  log(`offline after reload: ${JSON.stringify(offline)}`)
  await openRecord(page, dispute)
  equal(await id(page, "record-title").textContent(), TITLE, "the dispute's title after the reload")
  const timeline = await timelineOf(page)
  for (const kind of events) check(timeline.some(e => e.kind === kind), `the ${kind} event survived the reload: ${JSON.stringify(timeline)}`)

  // The network returns: the app syncs without being asked.
  await setOffline(phone, false)
  await until(async () => (await id(page, "sync-state").getAttribute("data-online")) === "true", "the app says it is online")
  const synced = await waitRows(page, [dispute, visit], "synced")
  log(`after the network returned: ${JSON.stringify(synced)}`)
  await waitSynced(page)
  const all = await rows(page)
  equal(all.length, 2, "the list holds the two records, once each")
  report("synced", { dispute, visit, title: TITLE, household: HOUSEHOLD, events: events.join(",") })
})
