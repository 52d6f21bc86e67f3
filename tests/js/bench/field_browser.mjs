// The browser side of `cargo run --release -p fengqiao-bench --bin field_browser`:
// in headless Chromium, on a Fengqiao server that already holds N records,
//
//  1. the field client library (`@fengqiao/client`, IndexedDB store) bootstraps
//     them through the batch door (POST /v1/sync), then reconnects idle after a
//     page reload;
//  2. the field app (/field) is set up by its link and bootstraps them, then
//     opens its list with the network off, after a reload;
//  3. the official automerge-repo client (Repo + BrowserWebSocketClientAdapter
//     + IndexedDBStorageAdapter, 2.5.6) finds every id on the WebSocket door
//     (/v1/ws?token=…), then reconnects idle after a page reload.
//
// Each runs in its own browser profile (a fresh, on-disk IndexedDB). Bytes are
// counted by the browser itself (Chrome DevTools Protocol Network events:
// encoded response sizes with headers, request bodies, WebSocket frame
// payloads). The pages of 1 and 3 are bundled here with esbuild and served on
// the server's own origin by route interception.
//
// Input: BENCH (JSON) = {server, setup, link, wsUrl, idsFile, records, limitMs, profiles, parts}
// Output: one JSON line per part ({"event": "field"|"app"|"repo", ...}).

import { chromium } from "playwright-core"
import { build } from "esbuild"
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { createRequire } from "node:module"

const HERE = dirname(fileURLToPath(import.meta.url))
const REPO_ROOT = join(HERE, "../../..")
const BENCH = JSON.parse(process.env.BENCH ?? "{}")
const LIMIT_MS = BENCH.limitMs ?? 600_000
const PARTS = BENCH.parts ?? ["field", "app", "repo"]

function report(event, fields) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + "\n")
}

function log(...words) {
  process.stderr.write(`[field_browser] ${words.join(" ")}\n`)
}

const watchdog = setTimeout(() => {
  report("failed", { reason: `no result within ${LIMIT_MS * 4} ms` })
  process.exit(2)
}, LIMIT_MS * 4)

// ---------------------------------------------------------------------------
// The pages.

async function bundle(entry, alias = {}) {
  const result = await build({
    entryPoints: [join(HERE, "pages", entry)],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "chrome120",
    // Names are kept when a CPU profile is asked for, to be read.
    minify: !BENCH.cpuProfile,
    write: false,
    alias,
    logLevel: "error",
  })
  return result.outputFiles[0].contents
}

function automergeWasm() {
  const require = createRequire(join(HERE, "../package.json"))
  return readFileSync(require.resolve("@automerge/automerge/automerge.wasm"))
}

const html = script =>
  `<!doctype html><meta charset="utf-8"><title>bench</title><script type="module" src="/bench/${script}"></script>`

/// Serves /bench/* on the server's origin from memory.
async function servePages(context, files) {
  await context.route(`${BENCH.server}/bench/**`, route => {
    const name = new URL(route.request().url()).pathname.slice("/bench/".length)
    const file = files[name]
    if (!file) return route.fulfill({ status: 404, body: "no such bench file" })
    return route.fulfill({ status: 200, contentType: file.type, body: file.body })
  })
}

// ---------------------------------------------------------------------------
// Measuring.

/// Counts what goes over the network for one page, as the browser sees it.
async function trafficOf(context, page) {
  const cdp = await context.newCDPSession(page)
  await cdp.send("Network.enable")
  const urls = new Map()
  let t
  const reset = () => {
    t = { down: 0, up: 0, requests: 0, syncRequests: 0, syncDown: 0, syncUp: 0, wsDown: 0, wsUp: 0, wsFramesDown: 0, wsFramesUp: 0 }
  }
  reset()
  const base64Bytes = text => Buffer.from(text ?? "", "base64").length
  const frameBytes = response => (response.opcode === 1 ? Buffer.byteLength(response.payloadData ?? "") : base64Bytes(response.payloadData))
  cdp.on("Network.requestWillBeSent", event => {
    urls.set(event.requestId, event.request.url)
    if (event.request.url.includes("/bench/")) return
    const entries = event.request.postDataEntries ?? []
    let body = 0
    for (const entry of entries) body += base64Bytes(entry.bytes)
    t.up += body
    if (event.request.url.includes("/v1/sync")) {
      t.syncRequests += 1
      t.syncUp += body
    }
  })
  cdp.on("Network.loadingFinished", event => {
    const url = urls.get(event.requestId) ?? ""
    // The benchmark's own page files (served from memory) are not traffic.
    if (url.includes("/bench/")) return
    t.down += event.encodedDataLength
    t.requests += 1
    if (url.includes("/v1/sync")) t.syncDown += event.encodedDataLength
  })
  cdp.on("Network.webSocketFrameReceived", event => {
    t.wsDown += frameBytes(event.response)
    t.wsFramesDown += 1
  })
  cdp.on("Network.webSocketFrameSent", event => {
    t.wsUp += frameBytes(event.response)
    t.wsFramesUp += 1
  })
  return {
    take() {
      const taken = t
      reset()
      return taken
    },
  }
}

/// A CPU profile of the page (the V8 sampling profiler), for finding where
/// a bootstrap spends its time; `stop` writes it (open it in Chromium's
/// DevTools) and returns the functions with the most self time.
async function startProfile(context, page) {
  const cdp = await context.newCDPSession(page)
  await cdp.send("Profiler.enable")
  await cdp.send("Profiler.setSamplingInterval", { interval: 500 })
  await cdp.send("Profiler.start")
  return {
    async stop(file) {
      const { profile } = await cdp.send("Profiler.stop")
      mkdirSync(dirname(file), { recursive: true })
      writeFileSync(file, JSON.stringify(profile))
      const byNode = new Map(profile.nodes.map(n => [n.id, n]))
      const self = new Map()
      const deltas = profile.timeDeltas ?? []
      profile.samples.forEach((nodeId, i) => {
        const frame = byNode.get(nodeId)?.callFrame
        const name = `${frame?.functionName || "(anonymous)"} ${(frame?.url ?? "").split("/").pop()}:${frame?.lineNumber ?? 0}`
        self.set(name, (self.get(name) ?? 0) + (deltas[i] ?? 0) / 1000)
      })
      const total = [...self.values()].reduce((a, b) => a + b, 0)
      return {
        file,
        totalMs: Math.round(total),
        top: [...self.entries()]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 15)
          .map(([name, ms]) => ({ name, ms: Math.round(ms) })),
      }
    },
  }
}

/// Bytes the profile's IndexedDB folder for the server's origin takes on disk.
function indexedDbOnDisk(profile) {
  const root = join(profile, "Default", "IndexedDB")
  let total = 0
  const walk = path => {
    const stat = statSync(path)
    if (stat.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name))
    else total += stat.size
  }
  try {
    for (const name of readdirSync(root)) if (name.startsWith("http_127.0.0.1")) walk(join(root, name))
  } catch {
    return null
  }
  return total
}

async function launch(name) {
  const profile = join(BENCH.profiles, name)
  mkdirSync(profile, { recursive: true })
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-dev-shm-usage",
      // A page fulfilled by route interception has no address space of its
      // own, and Chromium's local network access checks would then refuse
      // its requests to 127.0.0.1, its own origin.
      "--disable-features=LocalNetworkAccessChecks",
    ],
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: "zh-CN",
    serviceWorkers: "allow",
    timeout: 60_000,
  })
  context.setDefaultTimeout(LIMIT_MS)
  const page = context.pages()[0] ?? (await context.newPage())
  page.on("pageerror", error => log(`${name}: page error: ${error.message}`))
  page.on("console", message => {
    if (message.type() === "error" || message.type() === "warning") log(`${name}: ${message.type()}: ${message.text()}`)
  })
  return { context, page, profile }
}

// ---------------------------------------------------------------------------
// 1. The library.

async function fieldPart(wasm) {
  const clientEntry = join(REPO_ROOT, "clients/js/src/index.js")
  const script = await bundle("field.mjs", { "@fengqiao/client": clientEntry })
  const { context, page, profile } = await launch("field")
  try {
    await servePages(context, {
      "field.html": { type: "text/html", body: html("field.js") },
      "field.js": { type: "text/javascript", body: Buffer.from(script) },
      "automerge.wasm": { type: "application/wasm", body: wasm },
    })
    const traffic = await trafficOf(context, page)
    await page.goto(`${BENCH.server}/bench/field.html`)
    await page.waitForFunction(() => window.bench)
    traffic.take()
    const profiler = BENCH.cpuProfile ? await startProfile(context, page) : null
    const bootstrap = await page.evaluate(setup => window.bench.bootstrap(setup), JSON.stringify(BENCH.setup))
    const hot = profiler ? await profiler.stop(join(BENCH.cpuProfile, `field-bootstrap-${BENCH.records}.cpuprofile`)) : undefined
    const bootTraffic = traffic.take()
    const storage = await page.evaluate(() => window.bench.storage())
    await page.reload()
    await page.waitForFunction(() => window.bench)
    traffic.take()
    const reconnect = await page.evaluate(() => window.bench.reconnect())
    const idleTraffic = traffic.take()
    await context.close()
    report("field", { bootstrap, bootTraffic, storage, disk: indexedDbOnDisk(profile), reconnect, idleTraffic, hot })
  } finally {
    await context.close().catch(() => {})
  }
}

// ---------------------------------------------------------------------------
// 2. The app.

async function appPart() {
  const { context, page, profile } = await launch("app")
  const listed = n => {
    const count = document.querySelector('[data-testid="record-count"]')
    const state = document.querySelector('[data-testid="sync-state"]')
    return !!count && Number(count.dataset.count) >= n && state?.dataset.syncing === "false"
  }
  try {
    const traffic = await trafficOf(context, page)
    const started = Date.now()
    await page.goto(BENCH.link)
    await page.getByTestId("nav").waitFor({ timeout: LIMIT_MS })
    await page.getByTestId("nav-records").click()
    // Bootstrapped: the list counts every record and the app is not syncing.
    await page.waitForFunction(listed, BENCH.records, { timeout: LIMIT_MS, polling: 100 })
    const bootMs = Date.now() - started
    const bootTraffic = traffic.take()
    const storage = await page.evaluate(async () => {
      const e = await navigator.storage.estimate()
      return { usage: e.usage, indexedDB: e.usageDetails?.indexedDB ?? null }
    })
    // The app shell is cached by the service worker before the network goes.
    await page.waitForFunction(
      async () => {
        const registration = await navigator.serviceWorker.getRegistration("/field")
        if (!registration?.active) return false
        for (const name of await caches.keys()) {
          const keys = await (await caches.open(name)).keys()
          if (keys.some(r => new URL(r.url).pathname.endsWith("/app.js"))) return true
        }
        return false
      },
      null,
      { timeout: LIMIT_MS, polling: 200 },
    )
    // The list of N, offline, after a reload: from the navigation to the
    // first row drawn, and to the whole list counted.
    await context.setOffline(true)
    await context.route("**/*", route => route.abort("internetdisconnected"))
    const opened = Date.now()
    await page.reload({ waitUntil: "commit" })
    await page.getByTestId("record-row").first().waitFor({ state: "visible", timeout: LIMIT_MS })
    const firstRowMs = Date.now() - opened
    await page.waitForFunction(
      n => Number(document.querySelector('[data-testid="record-count"]')?.dataset.count) >= n,
      BENCH.records,
      { timeout: LIMIT_MS, polling: 20 },
    )
    const listMs = Date.now() - opened
    const shown = Number(await page.getByTestId("record-count").getAttribute("data-count"))
    const rows = await page.getByTestId("record-row").count()
    report("app", { bootMs, bootTraffic, storage, disk: indexedDbOnDisk(profile), firstRowMs, listMs, shown, rows })
  } finally {
    await context.close().catch(() => {})
  }
}

// ---------------------------------------------------------------------------
// 3. automerge-repo.

async function repoPart(wasm) {
  const script = await bundle("repo.mjs")
  const ids = readFileSync(BENCH.idsFile, "utf8").split("\n").filter(Boolean)
  const { context, page, profile } = await launch("repo")
  try {
    await servePages(context, {
      "repo.html": { type: "text/html", body: html("repo.js") },
      "repo.js": { type: "text/javascript", body: Buffer.from(script) },
      "automerge.wasm": { type: "application/wasm", body: wasm },
    })
    const traffic = await trafficOf(context, page)
    await page.goto(`${BENCH.server}/bench/repo.html`)
    await page.waitForFunction(() => window.bench)
    traffic.take()
    const bootstrap = await page.evaluate(([ws, ids, ms]) => window.bench.bootstrap(ws, ids, ms), [BENCH.wsUrl, ids, LIMIT_MS])
    const bootTraffic = traffic.take()
    const storage = await page.evaluate(() => window.bench.storage())
    await page.reload()
    await page.waitForFunction(() => window.bench)
    traffic.take()
    const reconnect = await page.evaluate(([ws, ids, ms]) => window.bench.reconnect(ws, ids, ms), [BENCH.wsUrl, ids, LIMIT_MS])
    // Frames still on their way when the last document was confirmed.
    await page.waitForTimeout(1000)
    const idleTraffic = traffic.take()
    report("repo", { bootstrap, bootTraffic, storage, disk: indexedDbOnDisk(profile), reconnect, idleTraffic })
  } finally {
    await context.close().catch(() => {})
  }
}

try {
  const wasm = automergeWasm()
  for (const part of PARTS) {
    log(`${part}: ${BENCH.records} records`)
    if (part === "field") await fieldPart(wasm)
    else if (part === "app") await appPart()
    else if (part === "repo") await repoPart(wasm)
  }
  clearTimeout(watchdog)
  process.exit(0)
} catch (error) {
  log(error.stack ?? String(error))
  report("failed", { reason: String(error?.message ?? error) })
  process.exit(1)
}
