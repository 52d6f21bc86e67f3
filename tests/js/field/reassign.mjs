// The administrator moves the phone to another village: at its next sync the
// app purges the old village's records and receives the new village's. Then
// the administrator revokes it: the app signs out, says so, and keeps the
// record it had not sent, which the cadre can export as a file.

import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { ARTIFACTS, DEVICES, EXTRA, FIELD, admin, check, equal, log, newPhone, report, scenario, setOffline, until } from "./lib.mjs"
import { createDispute, enrollByLink, id, rows, syncNow, waitRows, waitSynced } from "./app.mjs"

const a = DEVICES.a
const [VILLAGE_A, VILLAGE_B] = FIELD.villages

scenario("reassign", async browser => {
  const phone = await newPhone(browser, "a")
  const { page } = phone
  await enrollByLink(page, a.link)
  await waitSynced(page)
  const before = await waitRows(page, [EXTRA.inA.id], "synced")
  check(!before.some(r => r.id === EXTRA.inB.id), "the other village's record is not on the phone yet")

  // Reassigned to village B.
  await admin("PUT", `/v1/admin/devices/${a.device}/access`, { role: "cadre", scope: VILLAGE_B })
  log(`device moved from ${VILLAGE_A} to ${VILLAGE_B}`)
  await syncNow(page)
  const after = await until(
    async () => {
      const shown = await rows(page)
      return !shown.some(r => r.id === EXTRA.inA.id) && shown.some(r => r.id === EXTRA.inB.id) && shown
    },
    "village A's record purged and village B's received",
  )
  log(`after the move: ${JSON.stringify(after)}`)
  const leftover = await page.evaluate(async id => {
    // Nothing of the purged record is left in the page's storage.
    const db = await new Promise((resolve, reject) => {
      const request = indexedDB.open("fengqiao-field")
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
    })
    let found = 0
    for (const store of db.objectStoreNames) {
      const key = await new Promise((resolve, reject) => {
        const request = db.transaction(store).objectStore(store).getKey(id)
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      }).catch(() => undefined)
      if (key !== undefined) found += 1
    }
    db.close()
    return found
  }, EXTRA.inA.id)
  equal(leftover, 0, "object stores still holding the purged record")

  // Offline, the cadre records a dispute: it stays on the phone, unsent.
  await setOffline(phone, true)
  const unsent = await createDispute(page, {
    title: "孙国华与徐丽华务工工资纠纷",
    category: "labor",
    risk: "low",
    parties: [
      { name: "孙国华", role: "applicant" },
      { name: "徐丽华", role: "respondent" },
    ],
  })
  await waitRows(page, [unsent], "unsent")

  // Revoked while the phone was offline; at the next sync it signs out.
  await admin("POST", `/v1/admin/devices/${a.device}/revoke`, {})
  await setOffline(phone, false)
  const notice = id(page, "signed-out-notice")
  await notice.waitFor({ timeout: 60_000 })
  equal(await notice.getAttribute("data-kept"), "1", "records kept after the revocation")
  const said = await notice.textContent()
  check(/[\u4e00-\u9fff]/.test(said) && said.includes("1"), `the notice says, in Chinese, that 1 record was kept: ${said}`)

  // Export: a file with the unsent record.
  const [download] = await Promise.all([page.waitForEvent("download"), id(page, "export-unsent").click()])
  const file = join(ARTIFACTS, "reassign-unsent.json")
  await download.saveAs(file)
  const exported = JSON.parse(await readFile(file, "utf8"))
  equal(exported.records.length, 1, "records in the exported file")
  equal(exported.records[0].id, unsent, "the exported record")
  check(typeof exported.records[0].base64 === "string" && exported.records[0].base64.length > 100, "the record's bytes are in the file")

  // Signed out survives a reload: the records of the old device are gone.
  await page.reload()
  await id(page, "signed-out").waitFor()
  report("exported", { records: exported.records.length, id: unsent, notice: said })
})
