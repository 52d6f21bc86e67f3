// The closed loop reaches the cadre's phone: a dispute recorded and
// escalated to the town in the app; the town official accepts it, assigns
// a handler and puts it under 督办 with a deadline through the dashboard's
// action API; after the app's next sync the record's page shows the stage,
// the handler by name, the deadline and its note, the timeline's new
// events and the news line, in Chinese and with no person ids. Then the
// record list's search follows the address: a query in the hash, Back and
// Forward.
//
// EXTRA: {town: {token, name}, handler: {person, name}}

import { join } from "node:path"
import { ARTIFACTS, DEVICES, EXTRA, api, check, equal, log, newPhone, report, scenario, until } from "./lib.mjs"
import { addEvent, createDispute, enrollByLink, gotoRecords, id, openRecord, syncNow, waitRows, waitSynced } from "./app.mjs"

const DAY = 86_400_000

/// A day `days` ahead, as China Standard Time writes it (YYYY-MM-DD).
function dayAhead(days) {
  const cst = new Date(Date.now() + days * DAY + 8 * 3_600_000)
  return cst.toISOString().slice(0, 10)
}

scenario("loop", async browser => {
  const { town, handler } = EXTRA
  const phone = await newPhone(browser, "a")
  const { page } = phone
  await enrollByLink(page, DEVICES.a.link)
  await waitSynced(page)

  // Recorded and escalated in the app.
  const title = "宅基地边界纠纷（闭环）"
  const recordId = await createDispute(page, {
    title,
    category: "land",
    risk: "medium",
    parties: [
      { name: "张大山", role: "applicant" },
      { name: "刘小河", role: "respondent" },
    ],
  })
  await addEvent(page, { kind: "escalated", level: "town", note: "涉及多户，提请镇综治中心协调" })
  await syncNow(page)
  await waitRows(page, [recordId], "synced")

  // The town official acts through the dashboard's action API.
  const act = async body => {
    const answer = await api("POST", `/v1/records/${encodeURIComponent(recordId)}/actions`, town.token, body)
    check(answer.status === 200, `${body.action}: ${answer.status} ${answer.text}`)
    return answer.json
  }
  await act({ action: "accept", note: "材料齐全，予以受理" })
  await act({ action: "assign", person: handler.person })
  const note = "请于期限前化解并反馈结果"
  const supervised = await act({ action: "supervise", note, due: dayAhead(10) })
  const due = supervised.summary.supervisionDue
  check(typeof due === "number", `the supervision deadline: ${JSON.stringify(supervised.summary)}`)
  equal(supervised.summary.stage, "handling", "the stage after the assignment")
  report("acted", { dispute: recordId, due })

  // The app learns it at its next sync.
  await syncNow(page)
  await openRecord(page, recordId)
  const dueText = await page.evaluate(
    ms => new Intl.DateTimeFormat("zh-CN", { year: "numeric", month: "short", day: "numeric" }).format(new Date(ms)),
    due,
  )
  await until(async () => (await id(page, "fact-stage").textContent()) === "调处中", "the stage 调处中 on the record's page")
  const facts = {
    stage: await id(page, "fact-stage").textContent(),
    assignees: await id(page, "fact-assignees").textContent(),
    supervision: await id(page, "fact-supervision").textContent(),
    supervisionNote: await id(page, "fact-supervision-note").textContent(),
    status: await id(page, "fact-status").textContent(),
  }
  log(`facts: ${JSON.stringify(facts)}`)
  check(facts.assignees.includes(handler.name), `the handler by name: ${facts.assignees}`)
  check(facts.supervision.includes(dueText), `the 督办 deadline ${dueText}: ${facts.supervision}`)
  check(facts.supervisionNote.includes(note), `the 督办 note: ${facts.supervisionNote}`)
  check(facts.status.startsWith("已上报"), `the status: ${facts.status}`)

  // The news line says who did what.
  const news = await id(page, "news-summary").textContent()
  log(`news: ${news}`)
  for (const wanted of [`${town.name}已分派给${handler.name}承办`, `${town.name}已督办，期限 ${dueText}`]) {
    check(news.includes(wanted), `the news says ${JSON.stringify(wanted)}: ${news}`)
  }

  // The timeline, with the official's events.
  const events = await page
    .getByTestId("timeline-event")
    .evaluateAll(nodes => nodes.map(n => ({ kind: n.dataset.kind, text: n.textContent })))
  const kinds = events.map(e => e.kind)
  for (const kind of ["reported", "escalated", "accepted", "assigned", "supervised"]) {
    check(kinds.includes(kind), `a ${kind} event on the timeline: ${kinds}`)
  }
  const event = kind => events.find(e => e.kind === kind).text
  check(event("accepted").includes("受理") && event("accepted").includes(town.name), `the acceptance: ${event("accepted")}`)
  check(event("assigned").includes(`承办人：${handler.name}`), `the assignment: ${event("assigned")}`)
  check(event("supervised").includes(`期限：${dueText}`) && event("supervised").includes(note), `the 督办: ${event("supervised")}`)

  // People by name, never by id.
  const text = await page.locator("body").innerText()
  for (const person of [handler.person, town.person, DEVICES.a.person]) {
    check(!text.includes(person), `the person id ${person} is not shown`)
  }
  await page.screenshot({ path: join(ARTIFACTS, "field-loop-record-390x844.png"), fullPage: true })
  log("kept field-loop-record-390x844.png")

  // The row says it is under 督办.
  await gotoRecords(page)
  const row = page.locator(`[data-testid="record-row"][data-id="${recordId}"]`)
  const chip = await row.getByTestId("row-supervised").textContent()
  check(chip.includes(dueText), `the row's 督办 chip: ${chip}`)
  report("seen", { dispute: recordId, facts, news })

  // The list's search follows the address: a query brought by the hash,
  // then Back and Forward.
  const searchValue = () => id(page, "search").inputValue()
  const count = async () => Number(await id(page, "record-count").getAttribute("data-count"))
  await page.evaluate(() => {
    location.hash = "#/records?q=" + encodeURIComponent("张大山")
  })
  await until(async () => (await searchValue()) === "张大山" && (await count()) === 1, "the hash's query is searched")
  await page.evaluate(() => {
    location.hash = "#/records?q=" + encodeURIComponent("不存在的名字")
  })
  await until(async () => (await searchValue()) === "不存在的名字" && (await id(page, "no-records").count()) === 1, "a second query")
  await page.evaluate(() => history.back())
  await until(async () => (await searchValue()) === "张大山" && (await count()) === 1, "Back brings the first query again")
  await page.evaluate(() => history.forward())
  await until(async () => (await searchValue()) === "不存在的名字" && (await id(page, "no-records").count()) === 1, "Forward the second")
  report("searched", { url: page.url() })
})
