// Set-up by link: the cadre opens the link the admin's QR code carries; the
// app enrolls, the token leaves the address bar and the history; the phone
// holds one device (a second link is refused); "sign out and erase" wipes
// it; pasting the set-up text enrolls too.

import { DEVICES, SERVER, check, equal, log, newPhone, report, scenario } from "./lib.mjs"
import { APP, enrollByLink, id, settings } from "./app.mjs"

const a = DEVICES.a
const b = DEVICES.b

/// Every URL the tab's history holds, walking back then forward again.
async function historyUrls(page) {
  const urls = [page.url()]
  let steps = 0
  while ((await page.evaluate(() => history.length)) > 1 && steps < 10) {
    const response = await page.goBack({ waitUntil: "commit", timeout: 5000 }).catch(() => null)
    const url = page.url()
    if (urls.at(-1) === url && !response) break
    urls.push(url)
    steps += 1
    if (url === "about:blank") break
  }
  return urls
}

scenario("enroll", async browser => {
  const phone = await newPhone(browser, "a")
  const { page } = phone
  await enrollByLink(page, a.link)

  // The token is gone from the address bar at once, and from the history.
  const url = page.url()
  check(!url.includes("setup="), `the address bar still holds the set-up: ${url}`)
  check(!url.includes(a.token), `the address bar still holds the token: ${url}`)
  check(url.startsWith(APP), `the app stays at ${APP}: ${url}`)
  const history = await historyUrls(page)
  for (const entry of history) {
    check(!entry.includes("setup=") && !entry.includes(a.token), `a history entry holds the set-up: ${entry} (all: ${history})`)
  }
  // Back in the app (history walked back to the blank page).
  await page.goto(APP)
  await id(page, "nav").waitFor()
  const kept = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }))
  check(!kept.includes(a.token), "the token is not in localStorage or sessionStorage")

  // The device is the one enrolled, for the person named by the server.
  await settings(page)
  equal(await id(page, "device-person").textContent(), a.name, "the person on the settings page")
  equal(await id(page, "device-id").textContent(), a.device, "the device id")
  const scope = await id(page, "device-scope").textContent()
  check(scope.includes(a.scope), `the device's scope ${a.scope} on the settings page: ${scope}`)
  report("enrolled", { name: a.name, url: page.url(), history })

  // One phone holds one device: another link is refused and changes nothing.
  await page.goto("about:blank")
  await page.goto(b.link)
  await id(page, "setup-already").waitFor()
  check(!page.url().includes(b.token), `the refused link's token left the address bar: ${page.url()}`)
  await settings(page)
  equal(await id(page, "device-person").textContent(), a.name, "still the first device")

  // Sign out and erase: the set-up screen, and nothing survives a reload.
  await id(page, "sign-out").click()
  await id(page, "sign-out-confirm").click()
  await id(page, "setup").waitFor()
  await page.reload()
  await id(page, "setup").waitFor()
  // The database is gone, or (re-created by the app for the next set-up)
  // holds nothing at all.
  const left = await page.evaluate(async () => {
    const names = (await indexedDB.databases()).map(d => d.name)
    if (!names.includes("fengqiao-field")) return { names, entries: 0 }
    const db = await new Promise((resolve, reject) => {
      const request = indexedDB.open("fengqiao-field")
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
    })
    let entries = 0
    for (const store of db.objectStoreNames) {
      entries += await new Promise((resolve, reject) => {
        const request = db.transaction(store).objectStore(store).count()
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
    }
    db.close()
    return { names, entries }
  })
  log(`after the erase: ${JSON.stringify(left)}`)
  equal(left.entries, 0, "entries left in IndexedDB after sign out and erase")

  // Pasting the set-up text (the JSON payload) enrolls the second device.
  await id(page, "setup-paste").fill(JSON.stringify(b.setup))
  await id(page, "setup-submit").click()
  await id(page, "nav").waitFor()
  await settings(page)
  equal(await id(page, "device-person").textContent(), b.name, "the pasted device's person")
  equal(await id(page, "device-id").textContent(), b.device, "the pasted device")
  check(!page.url().includes(b.token), "no token in the address bar after pasting")

  // A bad paste says why, in Chinese first.
  const other = await newPhone(browser, "c")
  await other.page.goto(APP)
  await id(other.page, "setup").waitFor()
  await id(other.page, "setup-paste").fill("这不是设置链接")
  await id(other.page, "setup-submit").click()
  const error = id(other.page, "setup-error")
  await error.waitFor()
  equal(await error.getAttribute("data-code"), "bad_setup", "the error code of a bad paste")
  check(/[\u4e00-\u9fff]/.test(await error.textContent()), "the error is said in Chinese")
  report("erased", { server: SERVER })
})
