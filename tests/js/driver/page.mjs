// One headless Chromium page driven by commands on standard input, for the
// Rust tests that script a page step by step (fengqiao_tests::browser::Page).
//
// Each input line is a JSON command; each answers one JSON line on standard
// output: {"ok": value} or {"error": "..."}.
//
//   {"op": "go", "url": "..."}              open an address
//   {"op": "run", "script": "return ..."}   run a function body in the page;
//                                           its value (a promise is awaited)
//   {"op": "click", "css": "..."}           click the first match
//   {"op": "type", "css": "...", "text": "..."}  type into the first match
//   {"op": "back"}                          the browser's Back button
//   {"op": "screenshot"}                    a PNG of the page, base64
//   {"op": "close"}                         close the browser and exit
//
// Started with the viewport and language in argv: WIDTH HEIGHT LOCALE.
// Everything is bounded: each command has STEP_MS, and the process exits
// when its input closes (the test that started it has gone).

import { chromium } from "playwright-core"
import { createInterface } from "node:readline"

const STEP_MS = 30_000
const [width = "1400", height = "2400", locale = "zh-CN"] = process.argv.slice(2)

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
  timeout: STEP_MS,
})
const context = await browser.newContext({
  viewport: { width: Number(width), height: Number(height) },
  locale,
  timezoneId: "Asia/Shanghai",
})
context.setDefaultTimeout(STEP_MS)
context.setDefaultNavigationTimeout(STEP_MS)
const page = await context.newPage()
const problems = []
page.on("pageerror", error => problems.push(`page error: ${error.message}`))

function answer(value) {
  process.stdout.write(JSON.stringify(value) + "\n")
}

/// Runs a function body in the page, evaluated by the browser's debugging
/// protocol as WebDriver's scripts are (the page's Content-Security-Policy
/// does not apply). A script that navigates (a reload), or one that runs
/// while the page is navigating, answers null, as WebDriver does; none may
/// take longer than STEP_MS.
async function run(script) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the script did not finish within ${STEP_MS} ms`)), STEP_MS)
  })
  try {
    return (await Promise.race([page.evaluate(`(async () => { ${script} \n})()`), timeout])) ?? null
  } catch (error) {
    if (/Execution context was destroyed|navigat|Target closed|frame was detached/i.test(error.message)) {
      await page.waitForLoadState("load").catch(() => {})
      return null
    }
    throw error
  } finally {
    clearTimeout(timer)
  }
}

async function perform(command) {
  switch (command.op) {
    case "go":
      await page.goto(command.url)
      return null
    case "run":
      return run(command.script)
    case "click":
      await page.locator(command.css).first().click()
      return null
    case "type":
      await page.locator(command.css).first().pressSequentially(command.text)
      return null
    case "back":
      await page.goBack()
      return null
    case "screenshot":
      return (await page.screenshot()).toString("base64")
    default:
      throw new Error(`unknown command ${JSON.stringify(command.op)}`)
  }
}

answer({ ok: { version: browser.version() } })
const lines = createInterface({ input: process.stdin })
for await (const line of lines) {
  let command
  try {
    command = JSON.parse(line)
  } catch (error) {
    answer({ error: `not JSON: ${error.message}` })
    continue
  }
  if (command.op === "close") break
  if (process.env.FENGQIAO_DRIVER_LOG) process.stderr.write(`[page] ${line.slice(0, 200)}\n`)
  try {
    answer({ ok: await perform(command) })
  } catch (error) {
    answer({ error: `${command.op}: ${error.message}${problems.length ? `\n${problems.join("\n")}` : ""}` })
  }
}
await browser.close().catch(() => {})
process.exit(0)
