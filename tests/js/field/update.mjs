// A new version of the app while records wait to be sent: the phone has an
// unsent dispute (the server cannot be reached for syncing); a new service
// worker (a new version of the app shell) is published; when the phone is
// online the new version installs in the background and the app offers a
// reload; after it, the new version runs, the unsent dispute is still there
// and still unsent, and it is sent once the server can be reached again.

import { createHash } from "node:crypto"
import http from "node:http"
import { DEVICES, SERVER, check, equal, log, newPhone, report, scenario, setOffline, until } from "./lib.mjs"
import { createDispute, enrollByLink, id, rows, settings, syncNow, waitOfflineReady, waitRows, waitSynced } from "./app.mjs"

/// The server as the phone reaches it: a pass-through HTTP proxy on
/// 127.0.0.1 that can publish a new version of the app by rewriting the
/// service worker's version as it passes (the browser fetches the service
/// worker script itself, out of reach of page routes). The app is loaded
/// from the proxy's origin and syncs through it.
function startProxy() {
  const upstream = new URL(SERVER)
  const state = { rewrite: null, blockSync: false, swFetches: 0 }
  const server = http.createServer((request, response) => {
    const isSw = request.url.startsWith("/field/sw.js")
    if (isSw) state.swFetches += 1
    if (state.blockSync && request.url.startsWith("/v1/sync")) {
      request.socket.destroy()
      return
    }
    const headers = { ...request.headers, host: upstream.host }
    if (isSw && state.rewrite) {
      delete headers["accept-encoding"]
      // The rewritten script is another version: the browser's validator
      // (the server's ETag of the old bytes) no longer describes it.
      delete headers["if-none-match"]
    }
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers },
      answer => {
        if (isSw && state.rewrite && answer.statusCode === 200) {
          const chunks = []
          answer.on("data", chunk => chunks.push(chunk))
          answer.on("end", () => {
            const body = state.rewrite(Buffer.concat(chunks).toString("utf8"))
            const out = { ...answer.headers, "content-length": Buffer.byteLength(body) }
            // Its own validator, as a server publishing it would give it.
            out.etag = `W/"${createHash("sha256").update(body).digest("hex").slice(0, 32)}"`
            delete out["content-encoding"]
            delete out["transfer-encoding"]
            response.writeHead(200, out)
            response.end(body)
          })
          return
        }
        response.writeHead(answer.statusCode, answer.headers)
        answer.pipe(response)
      },
    )
    forward.on("error", () => request.socket.destroy())
    request.pipe(forward)
  })
  return new Promise(resolve =>
    server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${server.address().port}`, state, close: () => server.close() })),
  )
}

/// The version of the service worker controlling the page.
async function shellVersion(page) {
  return page.evaluate(
    () =>
      new Promise(resolve => {
        const controller = navigator.serviceWorker.controller
        if (!controller) return resolve(null)
        const channel = new MessageChannel()
        channel.port1.onmessage = event => resolve(event.data)
        controller.postMessage({ type: "version" }, [channel.port2])
        setTimeout(() => resolve(null), 2000)
      }),
  )
}

scenario("update", async browser => {
  const proxy = await startProxy()
  const phone = await newPhone(browser, "a")
  const { page } = phone
  await enrollByLink(page, DEVICES.a.link.replace(SERVER, proxy.url))
  await waitSynced(page)
  await waitOfflineReady(page)
  // The first version takes over the page it was installed from.
  const before = await until(() => shellVersion(page), "a service worker controls the app")

  // An unsent dispute, made offline.
  await setOffline(phone, true)
  const dispute = await createDispute(page, {
    title: "吴永福与黄桂芳耕地灌溉用水纠纷",
    category: "land",
    risk: "low",
    parties: [
      { name: "吴永福", role: "applicant" },
      { name: "黄桂芳", role: "respondent" },
    ],
  })
  await waitRows(page, [dispute], "unsent")

  // A new version is published; the sync door stays unreachable.
  const next = `${before}-next`
  proxy.state.rewrite = text => {
    check(text.includes(JSON.stringify(before)), "the service worker names its version")
    return text.replace(JSON.stringify(before), JSON.stringify(next))
  }
  proxy.state.blockSync = true
  const fetched = proxy.state.swFetches
  await setOffline(phone, false)
  // The new version installs and is offered; the cadre takes it.
  await id(page, "update-banner").waitFor({ timeout: 60_000 })
  check(proxy.state.swFetches > fetched, "the new service worker came from the server")
  equal(await shellVersion(page), before, "the old version runs until the cadre reloads")
  await Promise.all([page.waitForEvent("load", { timeout: 30_000 }), id(page, "update-reload").click()])
  await id(page, "nav").waitFor()
  await until(async () => (await shellVersion(page)) === next, "the new version runs after the reload")
  const shown = await waitRows(page, [dispute], "unsent")
  log(`after the update: ${JSON.stringify(shown)}`)
  await settings(page)
  log(`version shown: ${await id(page, "app-version").textContent()}`)

  // The server can be reached again: the dispute is sent.
  proxy.state.blockSync = false
  await syncNow(page)
  await waitRows(page, [dispute], "synced")
  equal((await rows(page)).filter(r => r.id === dispute).length, 1, "the dispute, once")
  proxy.close()
  report("updated", { dispute, before, after: next })
})
