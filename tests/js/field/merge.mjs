// Two phones, one dispute: both go offline, both add an event, they
// disagree on the risk; back online they sync. Both events survive, the
// highest risk counts, both show the same status, and each shows what the
// other phone did (the news banner names the other cadre).

import { DEVICES, check, equal, log, newPhone, report, scenario, setOffline } from "./lib.mjs"
import {
  addEvent,
  createDispute,
  enrollByLink,
  gotoRecords,
  id,
  openRecord,
  rows,
  setRisk,
  syncNow,
  timelineOf,
  waitRows,
  waitSynced,
} from "./app.mjs"

const TITLE = "刘建国与陈玉兰相邻通行纠纷"

/// What one phone's page shows of the dispute.
async function shown(page) {
  return {
    status: await id(page, "fact-status").textContent(),
    risk: await id(page, "fact-risk").textContent(),
    riskPressed: await page.locator('[data-testid^="set-risk-"][aria-pressed="true"]').getAttribute("data-testid"),
    events: (await timelineOf(page)).map(e => e.kind).sort(),
  }
}

scenario("merge", async browser => {
  const a = await newPhone(browser, "a")
  const b = await newPhone(browser, "b")
  await enrollByLink(a.page, DEVICES.a.link)
  await enrollByLink(b.page, DEVICES.b.link)
  await waitSynced(a.page)
  await waitSynced(b.page)

  // Phone A records the dispute and sends it; phone B receives it.
  const dispute = await createDispute(a.page, {
    title: TITLE,
    description: "两家共用的出行道路被一方堆放建材堵塞，另一方无法通行。",
    category: "neighbor",
    risk: "low",
    parties: [
      { name: "刘建国", role: "applicant" },
      { name: "陈玉兰", role: "respondent" },
    ],
  })
  await syncNow(a.page)
  await syncNow(b.page)
  await waitRows(b.page, [dispute], "synced")

  // Both offline; each edits the same dispute.
  await setOffline(a, true)
  await setOffline(b, true)
  await openRecord(a.page, dispute)
  await addEvent(a.page, { kind: "mediation", note: "李梅主持第一次调解。" })
  await setRisk(a.page, "high")
  await openRecord(b.page, dispute)
  await addEvent(b.page, { kind: "note", note: "王强上门核实堆放建材情况。" })
  await setRisk(b.page, "medium")

  // Each cadre goes back to the list (leaving a record's page marks its
  // news as seen, so the merge's news must arrive while it is closed).
  await gotoRecords(a.page)
  await gotoRecords(b.page)

  // Back online: A sends, B sends and receives A's, A receives B's.
  await setOffline(a, false)
  await setOffline(b, false)
  await syncNow(a.page)
  await syncNow(b.page)
  await syncNow(a.page)

  const seen = {}
  for (const [name, phone, other] of [
    ["a", a, DEVICES.b],
    ["b", b, DEVICES.a],
  ]) {
    const page = phone.page
    // The list marks the record as changed by someone else.
    await waitRows(page, [dispute], "synced")
    const row = page.locator(`[data-testid="record-row"][data-id="${dispute}"]`)
    check((await row.getByTestId("row-news").count()) === 1, `${name}: the list marks the record as changed elsewhere`)
    await openRecord(page, dispute)
    const now = await shown(page)
    log(`${name} shows ${JSON.stringify(now)}`)
    equal(now.events, ["mediation", "note", "reported"].sort(), `${name}: both events and the report on the timeline`)
    equal(now.riskPressed, "set-risk-high", `${name}: the highest risk counts`)
    check(/高/.test(now.risk), `${name}: the risk reads 高: ${now.risk}`)
    // What the other phone did, named.
    const banner = id(page, "news-banner")
    await banner.waitFor()
    const news = await id(page, "news-summary").textContent()
    log(`${name}'s news: ${news}`)
    check(news.includes(other.name), `${name}'s news names ${other.name}: ${news}`)
    const conflict = id(page, "news-risk-conflict")
    const riskConflict = (await conflict.count()) ? await conflict.textContent() : null
    log(`${name}'s risk rule: ${riskConflict}`)
    seen[name] = { ...now, news, riskConflict }
  }
  equal(seen.a.status, seen.b.status, "both phones show the same status")
  // The phones disagreed on the risk (A set high, B medium): the rule that
  // settled it is shown.
  const conflicts = [seen.a.riskConflict, seen.b.riskConflict].filter(Boolean)
  check(conflicts.length > 0, `a phone shows that the phones disagreed on the risk: ${JSON.stringify(seen)}`)
  check(conflicts.every(c => /风险/.test(c) && /最高/.test(c)), `the rule is said in Chinese: ${conflicts}`)
  report("merged", { dispute, a: seen.a, b: seen.b })
})
