// What every field-app scenario shares: Chromium as a phone, the context the
// Rust test passes in, JSON reports on stdout, bounded waits, and artifacts
// (screenshots, the browser console) kept when something goes wrong.
//
// A scenario is `node field/<name>.mjs` run from tests/js by
// tests/tests/field_app.rs with, in its environment:
//   SERVER     the server's URL (http://127.0.0.1:PORT)
//   ARTIFACTS  where screenshots and logs go (target/test-artifacts/field)
//   FIELD      JSON: {server, admin, devToken, bin, villages, town,
//                     devices: {a: {device, person, name, scope, token, setup, link}, ...},
//                     extra: {...scenario specific}}
// It prints one JSON object per line ({"event": ...}); the last is
// {"event": "passed"}, and it exits non-zero on the first failure.

import { chromium } from "playwright-core"
import { execFile } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"

export const SERVER = process.env.SERVER
export const ARTIFACTS = process.env.ARTIFACTS ?? "."
export const FIELD = JSON.parse(process.env.FIELD ?? "{}")
export const DEVICES = FIELD.devices ?? {}
export const EXTRA = FIELD.extra ?? {}

/// How long one step (a page load, a sync, a tap's effect) may take.
export const STEP_MS = 30_000
/// How long a whole scenario may take, browser start included.
const SCENARIO_MS = 200_000

/// The phone: an ordinary Android phone's screen in CSS pixels.
export const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: "zh-CN",
  timezoneId: "Asia/Shanghai",
  serviceWorkers: "allow",
  acceptDownloads: true,
}

export function report(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + "\n")
}

export function log(...words) {
  process.stderr.write(`[${new Date().toISOString()}] ${words.join(" ")}\n`)
}

export function check(condition, message) {
  if (!condition) throw new Error(message)
}

export function equal(actual, expected, what) {
  const a = JSON.stringify(actual)
  const e = JSON.stringify(expected)
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`)
}

export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

/// Polls `probe` until it returns a truthy value; throws after `ms`.
export async function until(probe, what, ms = STEP_MS) {
  const deadline = Date.now() + ms
  let last
  for (;;) {
    try {
      last = await probe()
      if (last) return last
    } catch (e) {
      last = e
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${ms} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`)
    }
    await sleep(100)
  }
}

/// Runs `fengqiao` (the binary under test) with `args`; resolves to stdout.
export function fengqiao(args, ms = 60_000) {
  return new Promise((resolve, reject) => {
    execFile(FIELD.bin, args, { timeout: ms, env: { ...process.env, FENGQIAO_LOG: "warn" } }, (error, stdout, stderr) => {
      if (error) reject(new Error(`fengqiao ${args.join(" ")}: ${error.message}\n${stdout}\n${stderr}`))
      else resolve(stdout)
    })
  })
}

/// A call to the server's HTTP API with a bearer token.
export async function api(method, path, token, body) {
  const response = await fetch(`${SERVER}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(STEP_MS),
  })
  const text = await response.text()
  let json = null
  try {
    json = JSON.parse(text)
  } catch {}
  return { status: response.status, json, text }
}

export async function admin(method, path, body) {
  const answer = await api(method, path, FIELD.admin, body)
  if (answer.status !== 200) throw new Error(`${method} ${path}: ${answer.status} ${answer.text}`)
  return answer.json
}

const pages = new Set()
const consoleLines = []

/// A new phone: its own browser context (storage, service worker, offline
/// switch) with one page.
export async function newPhone(browser, name) {
  const context = await browser.newContext(PHONE)
  context.setDefaultTimeout(STEP_MS)
  context.setDefaultNavigationTimeout(STEP_MS)
  const page = await context.newPage()
  watch(page, name)
  return { name, context, page }
}

export function watch(page, name) {
  pages.add({ page, name })
  page.on("console", message => consoleLines.push(`[${name}] ${message.type()}: ${message.text()}`))
  page.on("pageerror", error => consoleLines.push(`[${name}] page error: ${error.message}`))
  page.on("crash", () => consoleLines.push(`[${name}] the page crashed`))
}

/// Switches a phone's network off or on: the browser's network emulation
/// (navigator.onLine, `offline`/`online` events, the page's own requests)
/// and, because emulation does not reach every service-worker fetch in
/// every Chromium, a route that fails whatever the context still sends.
export async function setOffline(phone, offline) {
  if (offline && !phone.cutRoute) {
    phone.cutRoute = route => route.abort("internetdisconnected")
    await phone.context.route("**/*", phone.cutRoute)
  }
  if (!offline && phone.cutRoute) {
    await phone.context.unroute("**/*", phone.cutRoute)
    phone.cutRoute = null
  }
  await phone.context.setOffline(offline)
}

/// Runs a scenario: launches Chromium, runs `body(browser)`, reports
/// `passed`; on failure keeps a screenshot of every page and the console,
/// reports `failed` and exits 1. Everything is bounded by SCENARIO_MS.
export async function scenario(name, body) {
  mkdirSync(ARTIFACTS, { recursive: true })
  const watchdog = setTimeout(() => {
    report("failed", { reason: `the scenario took longer than ${SCENARIO_MS} ms` })
    dumpConsole(name)
    process.exit(2)
  }, SCENARIO_MS)
  let browser
  try {
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
      timeout: STEP_MS,
    })
    log(`${name}: Chromium ${browser.version()}`)
    await body(browser)
    report("passed")
    await browser.close()
    clearTimeout(watchdog)
    process.exit(0)
  } catch (error) {
    log(`${name} failed: ${error.stack ?? error}`)
    let n = 0
    for (const { page, name: phoneName } of pages) {
      const file = `${name}-failure-${phoneName}-${n++}.png`
      try {
        await page.screenshot({ path: join(ARTIFACTS, file), timeout: 5000 })
        log(`kept ${file}`)
        const text = await page.locator("body").innerText({ timeout: 2000 })
        log(`[${phoneName}] page text at failure (${page.url()}):\n${text.slice(0, 3000)}`)
      } catch {}
    }
    dumpConsole(name)
    report("failed", { reason: String(error?.message ?? error) })
    try {
      await browser?.close()
    } catch {}
    process.exit(1)
  }
}

function dumpConsole(name) {
  try {
    writeFileSync(join(ARTIFACTS, `${name}-console.txt`), consoleLines.join("\n") + "\n")
  } catch {}
  log(`console:\n${consoleLines.slice(-200).join("\n")}`)
}
