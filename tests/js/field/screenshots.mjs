// Phone-sized screenshots (390×844) of the record list, the dispute form and
// a record's page, kept in the artifacts directory; Chinese renders: the
// Chinese labels are on screen, and the page's font draws CJK glyphs (not
// the empty boxes of a missing font).

import { join } from "node:path"
import { ARTIFACTS, DEVICES, EXTRA, check, equal, log, newPhone, report, scenario, until } from "./lib.mjs"
import { enrollByLink, gotoRecords, id, openRecord, waitRows, waitSynced } from "./app.mjs"

/// Whether the page's own font draws `text` differently from a character no
/// font has (U+10FFFD, private use): a missing CJK font draws both as boxes.
async function drawsGlyphs(page, text) {
  return page.evaluate(text => {
    const font = getComputedStyle(document.body).font
    const draw = s => {
      const canvas = document.createElement("canvas")
      canvas.width = 200
      canvas.height = 60
      const ctx = canvas.getContext("2d")
      ctx.font = font.replace(/\d+(\.\d+)?px/, "32px")
      ctx.fillText(s, 4, 44)
      return Array.from(ctx.getImageData(0, 0, 200, 60).data).join(",")
    }
    const missing = draw("\u{10FFFD}")
    return [...text].every(ch => draw(ch) !== missing)
  }, text)
}

async function shoot(page, name, files) {
  const file = `field-${name}-390x844.png`
  await page.screenshot({ path: join(ARTIFACTS, file) })
  files.push(file)
  log(`kept ${file}`)
}

scenario("screenshots", async browser => {
  const phone = await newPhone(browser, "a")
  const { page } = phone
  const record = EXTRA.record
  await enrollByLink(page, DEVICES.a.link)
  await waitSynced(page)
  await waitRows(page, [record.id], "synced")
  const files = []

  // The list.
  await gotoRecords(page)
  // Search by a party's name, and by a word of no record.
  await id(page, "search").fill("李四")
  await until(async () => (await id(page, "record-count").getAttribute("data-count")) === "1", "the search finds the dispute by a party")
  await id(page, "search").fill("不存在的名字")
  await id(page, "no-records").waitFor()
  await id(page, "search").fill("")
  await until(async () => (await id(page, "record-count").getAttribute("data-count")) === "1", "the whole list again")
  const list = id(page, "record-list")
  await list.getByText(record.title).first().waitFor({ state: "visible" })
  await list.getByText("矛盾纠纷").first().waitFor({ state: "visible" })
  check(await drawsGlyphs(page, "矛盾纠纷调解"), "the page's font draws Chinese characters")
  await shoot(page, "list", files)

  // The dispute form, partly filled.
  await id(page, "new-dispute").click()
  await id(page, "dispute-form").waitFor()
  await id(page, "field-title").fill("王德明与赵春梅宅基地边界纠纷")
  await id(page, "party-name-0").fill("王德明")
  await id(page, "dispute-form").getByText(/^标题/).first().waitFor({ state: "visible" })
  await page.evaluate(() => window.scrollTo(0, 0))
  await shoot(page, "dispute-form", files)

  // A party of the existing dispute: the form asks whether it is the same case.
  await id(page, "party-name-1").fill("李四")
  const suggestion = id(page, "duplicate-suggestion")
  await suggestion.first().waitFor({ state: "visible" })
  equal(await suggestion.first().getAttribute("data-id"), record.id, "the possible duplicate offered")
  await id(page, "duplicates").scrollIntoViewIfNeeded()
  await shoot(page, "dispute-duplicate", files)

  // A record's page.
  await openRecord(page, record.id)
  await id(page, "record-title").getByText(record.title).waitFor({ state: "visible" })
  await id(page, "timeline").getByText("调解", { exact: true }).first().waitFor({ state: "visible" })
  await shoot(page, "record", files)

  // The same in English, on the switch.
  await id(page, "nav-settings").click()
  await id(page, "lang-switch").click()
  await openRecord(page, record.id)
  await id(page, "timeline").getByText("Mediation", { exact: true }).first().waitFor({ state: "visible" })
  await shoot(page, "record-en", files)
  report("screenshots", { files })
})
