// A connection cut in the middle of a bootstrap: the phone's second sync
// request reaches the server, which answers, but the answer never reaches
// the phone (the connection is reset). The app retries by itself with the
// cursor of the last answer it stored, and ends with every record exactly
// once: the answers it applied carry each record once, the list counts N,
// IndexedDB holds N.

import { gunzipSync } from "node:zlib"
import { decode } from "cbor-x"
import { DEVICES, EXTRA, check, equal, log, newPhone, report, scenario, until } from "./lib.mjs"
import { enrollByLink, gotoRecords, id, waitSynced } from "./app.mjs"

const CUT_AT = 2

const hex = bytes => (bytes ? Buffer.from(bytes).toString("hex") : null)

function decodeBody(buffer, encoding) {
  if (!buffer?.length) return null
  const raw = encoding === "gzip" ? gunzipSync(buffer) : buffer
  return decode(raw)
}

scenario("cut", async browser => {
  const expected = new Set(EXTRA.ids)
  const phone = await newPhone(browser, "a")
  const { page } = phone
  const exchanges = []
  let cut = 0
  await phone.context.route("**/v1/sync", async route => {
    const request = route.request()
    const sent = decodeBody(request.postDataBuffer(), request.headers()["content-encoding"])
    // The server gets the request and answers it in full.
    const response = await route.fetch({ timeout: 60_000 })
    const body = await response.body()
    const answer = response.status() === 200 ? decode(body) : null
    const exchange = {
      n: exchanges.length + 1,
      status: response.status(),
      sentCursor: hex(sent?.cursor),
      cursor: hex(answer?.cursor),
      more: answer?.more,
      remaining: answer?.remaining,
      docs: (answer?.docs ?? []).map(d => d.id),
      delivered: true,
    }
    exchanges.push(exchange)
    if (exchange.n === CUT_AT && answer) {
      // The answer is lost on the way back.
      exchange.delivered = false
      cut += 1
      log(`cut answer ${exchange.n} (${exchange.docs.length} records, more ${exchange.more})`)
      return route.abort("connectionreset")
    }
    // Playwright hands the body over decompressed: send it as it is.
    const headers = { ...response.headers() }
    delete headers["content-encoding"]
    delete headers["content-length"]
    delete headers["transfer-encoding"]
    return route.fulfill({ status: response.status(), headers, body })
  })

  await enrollByLink(page, DEVICES.a.link)
  // The bootstrap shows its progress, and then ends by itself.
  let progressSeen = null
  await until(
    async () => {
      // Read in one step: the progress line goes away when the bootstrap ends.
      const bar = await page.evaluate(() => {
        const el = document.querySelector('[data-testid="progress"]')
        return el && { done: el.getAttribute("data-done"), total: el.getAttribute("data-total"), text: el.textContent }
      })
      if (!progressSeen && bar) progressSeen = bar
      const state = id(page, "sync-state")
      const delivered = exchanges.filter(e => e.delivered && e.status === 200)
      return cut > 0 && delivered.length > 0 && delivered.at(-1).more === false && (await state.getAttribute("data-syncing")) === "false"
    },
    "the bootstrap resumes after the cut and completes",
    120_000,
  )
  await waitSynced(page)
  log(`exchanges: ${JSON.stringify(exchanges.map(({ docs, ...e }) => ({ ...e, docs: docs.length })))}`)
  log(`progress seen: ${JSON.stringify(progressSeen)}`)

  check(exchanges.length > CUT_AT, `the bootstrap needed more than ${CUT_AT} answers (got ${exchanges.length}): make the records bigger`)
  const lost = exchanges[CUT_AT - 1]
  check(lost.more === true, "the cut answer was in the middle of the bootstrap")
  // The retry resumed from the last stored cursor: not from the start, not
  // past the lost answer.
  const retry = exchanges[CUT_AT]
  equal(retry.sentCursor, exchanges[CUT_AT - 2].cursor, "the cursor the retry sent (the last answer applied)")
  check(retry.sentCursor !== null, "the retry did not start the bootstrap over")

  // Every record arrived exactly once in what the app applied.
  const applied = exchanges.filter(e => e.delivered).flatMap(e => e.docs)
  equal(applied.length, expected.size, "records in the answers the app applied")
  equal(new Set(applied).size, expected.size, "distinct records in the answers the app applied")
  check(applied.every(i => expected.has(i)), "only the village's records arrived")

  // The app's list and its IndexedDB hold each once.
  await gotoRecords(page)
  await until(async () => Number(await id(page, "record-count").getAttribute("data-count")) === expected.size, `the list counts ${expected.size}`)
  const stored = await page.evaluate(async () => {
    const db = await new Promise((resolve, reject) => {
      const request = indexedDB.open("fengqiao-field")
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
    })
    const keys = await new Promise((resolve, reject) => {
      const request = db.transaction("docs").objectStore("docs").getAllKeys()
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
    })
    db.close()
    return keys
  })
  equal(stored.length, expected.size, "documents in IndexedDB")
  check(stored.every(k => expected.has(k)), "IndexedDB holds the village's records")
  report("bootstrapped", { records: stored.length, cut, answers: exchanges.length, progress: progressSeen })
})
