// The dashboard on a phone and on a desktop, in Chinese and in English,
// against the demo's township (`fengqiao demo --no-serve`, then served):
//
// - at 390 px no page scrolls sideways, and no table cell is squeezed to one
//   character per line (tables scroll within their card instead);
// - every count axis of every chart has integer ticks, also where the counts
//   are small (the village with the fewest disputes);
// - the Chinese page shows no English UI string (the English catalogue's
//   phrases, or any Latin word but the few named below), and the English
//   page's interface (headings, labels, buttons, statuses, chart legends)
//   has no Chinese;
// - screenshots of each view in both sizes and languages are kept.
//
// FIELD.extra: {town, district, supervisor} (tokens).

import { join } from "node:path"
import { ARTIFACTS, EXTRA, SERVER, check, log, report, scenario, until, watch } from "../field/lib.mjs"

const SIZES = {
  phone: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
  desktop: { viewport: { width: 1366, height: 900 }, deviceScaleFactor: 1 },
}

/// Latin words the Chinese page may show: the switch to English and the
/// names of file formats.
const LATIN_ALLOWED = new Set(["English", "CSV", "XLSX", "Excel"])
/// The only Chinese on the English page's interface: the switch back.
const CJK_ALLOWED = new Set(["中文"])
const CJK = /[\u3400-\u9fff\uf900-\ufaff]/

async function signIn(page, token) {
  await page.goto(`${SERVER}/dashboard`)
  await page.fill("#token", token)
  await page.click("#login-submit")
  await until(() => page.evaluate(() => {
    const figure = document.querySelector('.figure[data-figure="received"] .value')
    return figure && /\d/.test(figure.textContent) && !document.getElementById("overview-view").hidden
  }), "the overview after signing in")
}

async function setLanguage(page, lang) {
  const current = await page.evaluate(() => document.documentElement.lang)
  if ((lang === "en") !== (current === "en")) await page.click("#lang")
  await until(() => page.evaluate(l => document.documentElement.lang === l, lang === "en" ? "en" : "zh-CN"), `the page in ${lang}`)
}

/// Opens a view by its address and waits until `ready` (a selector) shows.
async function open(page, hash, ready) {
  await page.evaluate(h => { window.location.hash = h }, hash)
  await until(() => page.evaluate(([sel, hash]) => {
    const el = document.querySelector(sel)
    if (!el || el.offsetParent === null || document.querySelector("#error:not([hidden])")) return false
    // The view's own answer has arrived (nothing of the view before it).
    const state = window.FQDashboard.state
    if (hash.startsWith("#/list/")) return !!(state.list && state.list.answer)
    if (hash.startsWith("#/case/")) return !!(state.caseFile && hash.endsWith(state.caseFile.summary.id))
    if (hash.startsWith("#/report")) return !!state.report
    return !!state.data
  }, [ready, hash]), `the view ${hash}`)
  // The charts and tables of a fresh answer settle in a frame or two.
  await page.waitForTimeout(300)
}

/// The visible views' problems at this width: the page wider than the
/// screen, and table cells showing one character per line.
async function layoutProblems(page) {
  return page.evaluate(() => {
    const problems = []
    const width = document.documentElement.clientWidth
    if (document.documentElement.scrollWidth > width + 1) {
      problems.push(`the page is ${document.documentElement.scrollWidth} px wide on a ${width} px screen`)
    }
    for (const cell of document.querySelectorAll("main td, main th")) {
      if (cell.offsetParent === null) continue
      const text = cell.innerText.trim()
      if ([...text].length < 2) continue
      const range = document.createRange()
      range.selectNodeContents(cell)
      const rects = [...range.getClientRects()].filter(r => r.width > 0 && r.height > 0)
      const lines = new Set(rects.map(r => Math.round(r.top))).size
      const size = parseFloat(getComputedStyle(cell).fontSize) || 14
      const widest = Math.max(0, ...rects.map(r => r.width))
      if (lines >= 2 && widest < 1.6 * size) {
        problems.push(`"${text.slice(0, 20)}" in ${cell.closest("table")?.id || "a table"} is ${lines} lines of one character`)
      }
    }
    // Every chart fills its box (one drawn while its view was hidden must
    // be redrawn at the box's width when the view shows).
    for (const host of document.querySelectorAll(".chart.has-chart")) {
      if (host.offsetParent === null) continue
      const chart = window.echarts.getInstanceByDom(host)
      if (chart && Math.abs(chart.getWidth() - host.clientWidth) > 2) {
        problems.push(`the chart ${host.id} is ${chart.getWidth()} px wide in a ${host.clientWidth} px box`)
      }
    }
    return problems
  })
}

/// Every count axis's ticks, per chart box.
async function chartTicks(page) {
  return page.evaluate(() => {
    const out = {}
    for (const host of document.querySelectorAll(".chart.has-chart")) {
      const chart = window.echarts.getInstanceByDom(host)
      if (!chart) continue
      const model = chart.getModel()
      const ticks = []
      for (const kind of ["xAxis", "yAxis"]) {
        const axis = model.getComponent(kind, 0)?.axis
        if (axis && axis.type === "value") ticks.push(...axis.scale.getTicks().map(t => t.value))
      }
      out[host.id] = ticks
    }
    return out
  })
}

function checkTicks(ticks, where) {
  // The donut has no axis; the status, month and category charts count.
  const axes = Object.entries(ticks).filter(([, values]) => values.length)
  check(axes.length >= 3, `${where}: three charts with count axes, got ${JSON.stringify(ticks)}`)
  for (const [id, values] of axes) {
    check(values.length >= 2, `${where}: ${id} has a count axis`)
    const bad = values.filter(v => !Number.isInteger(v))
    check(!bad.length, `${where}: ${id} has ticks that are not whole numbers: ${JSON.stringify(values)}`)
  }
}

/// The catalogue, as the page itself loaded it.
async function catalogue(page) {
  return page.evaluate(() => ({ zh: window.FQ_I18N.zh, en: window.FQ_I18N.en }))
}

/// Literal pieces of a catalogue message (placeholders cut out) long
/// enough to mean something on their own.
function phrases(messages, test) {
  const out = new Set()
  for (const message of Object.values(messages)) {
    for (const piece of message.split(/\{[a-zA-Z]+\}/)) {
      const text = piece.trim().replace(/[:：,，.。()（）›←·]+$/u, "").replace(/^[:：,，.。()（）›←·]+/u, "").trim()
      if (test(text)) out.add(text)
    }
  }
  return [...out]
}

/// What the Chinese page shows that is English.
async function englishOnChinesePage(page, english) {
  const text = await page.evaluate(() => {
    const views = [...document.querySelectorAll("header, main > section, #alerts, #error")]
    return views.filter(v => v.offsetParent !== null || v.tagName === "HEADER").map(v => v.innerText).join("\n")
  })
  const found = []
  for (const phrase of english) if (text.includes(phrase)) found.push(`catalogue phrase "${phrase}"`)
  // Record ids (base58, 20+ characters) are not words.
  const words = text.replace(/[1-9A-HJ-NP-Za-km-z]{20,}/g, " ").match(/[A-Za-z]{2,}/g) ?? []
  for (const word of new Set(words)) if (!LATIN_ALLOWED.has(word)) found.push(`word "${word}"`)
  return found
}

/// Chinese in the English page's interface: everything but data (titles,
/// names of people and places, notes), which stays as written.
async function chineseOnEnglishPage(page, names) {
  return page.evaluate(([source, names]) => {
    const pattern = new RegExp(source)
    // Names of places are data, written as they are in every language.
    const cjk = { test: text => pattern.test(names.reduce((t, name) => t.split(name).join(""), text)) }
    const chrome = [
      "header h1", "header .brand-sub", "header button", "header .who-role", "label", "button", "th", "h1:not(#scope-title):not(#case-title)", "h2", "h3",
      "dt", ".hint", ".figure .label", ".figure .note", ".figure .change", ".figure summary", ".figure .how-text",
      ".extra", "td.status", "td.deadline", "td.num", "td.rank", ".list-tab", ".pager", "#list-page", ".all-link",
      ".back", ".export", "select#list-category option", "select#list-risk option", "select#list-sort option",
      "select#list-village option:first-child", ".chart-empty", "td.empty", "td.more", ".live", "#act-message",
    ].join(",")
    const found = []
    for (const el of document.querySelectorAll(chrome)) {
      if (el.closest("[hidden]") || (el.offsetParent === null && el.tagName !== "OPTION")) continue
      if (el.matches("td.more") && el.querySelector("a")) continue
      const text = (el.innerText ?? el.textContent).trim()
      if (!cjk.test(text) || text === "中文") continue
      found.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${el.className}: "${text.slice(0, 40)}"`)
    }
    // The charts' legends and the categories' names.
    for (const host of document.querySelectorAll(".chart.has-chart")) {
      const chart = window.echarts.getInstanceByDom(host)
      const option = chart?.getOption()
      for (const legend of option?.legend ?? []) {
        for (const name of legend.data ?? []) {
          const text = typeof name === "string" ? name : name.name
          if (cjk.test(text)) found.push(`legend of ${host.id}: "${text}"`)
        }
      }
      if (host.id === "chart-category") {
        for (const axis of option?.yAxis ?? []) {
          for (const name of axis.data ?? []) if (cjk.test(name)) found.push(`category axis: "${name}"`)
        }
      }
    }
    return found
  }, [CJK.source, names])
}

/// The names of the places in the official's scope (longest first).
async function placeNames(page) {
  return page.evaluate(async () => {
    const places = await fetch("/v1/places", { credentials: "same-origin" }).then(r => r.json())
    const names = new Set()
    const walk = value => {
      if (Array.isArray(value)) value.forEach(walk)
      else if (value && typeof value === "object") {
        for (const [key, inner] of Object.entries(value)) {
          if (key === "name" && typeof inner === "string") names.add(inner)
          else if (typeof inner === "string" && /^\d{6,12}$/.test(key)) names.add(inner)
          else walk(inner)
        }
      }
    }
    walk(places)
    return [...names].sort((a, b) => b.length - a.length)
  })
}

await scenario("dashboard-screens", async browser => {
  const contexts = {}
  for (const [size, options] of Object.entries(SIZES)) {
    const context = await browser.newContext({ ...options, locale: "zh-CN", timezoneId: "Asia/Shanghai" })
    context.setDefaultTimeout(30_000)
    const page = await context.newPage()
    watch(page, size)
    await signIn(page, EXTRA.town)
    contexts[size] = page
  }
  const { zh, en } = await catalogue(contexts.phone)
  // The catalogue itself: the same keys in both languages (English may add
  // a singular form, key + ".one"), the same placeholders, and no Chinese
  // in the English messages but the switch back to Chinese.
  const placeholders = text => [...text.matchAll(/\{([a-zA-Z]+)\}/g)].map(m => m[1]).sort().join(",")
  for (const key of Object.keys(zh)) check(key in en, `the catalogue has no English for ${key}`)
  for (const [key, value] of Object.entries(en)) {
    const base = key.endsWith(".one") ? key.slice(0, -4) : key
    check(base in zh, `the catalogue has no Chinese for ${key}`)
    if (!key.endsWith(".one")) check(placeholders(value) === placeholders(zh[key]), `${key}: the two languages fill different blanks`)
    check(!CJK.test(value) || CJK_ALLOWED.has(value), `${key}: Chinese in the English message "${value}"`)
  }
  const names = await placeNames(contexts.phone)
  check(names.length >= 3, `the places have names: ${JSON.stringify(names)}`)
  // English phrases of the catalogue that are not also the Chinese page's
  // (the language switch says "English" in both).
  const zhValues = new Set(Object.values(zh))
  const english = phrases(Object.fromEntries(Object.entries(en).filter(([, v]) => !zhValues.has(v))),
    t => /[A-Za-z]{3,}/.test(t) && t.length >= 4 && !LATIN_ALLOWED.has(t))
  check(english.length > 100, `the English catalogue has phrases to look for (${english.length})`)

  // A case to open: the first of the open cases.
  const firstCase = await contexts.desktop.evaluate(async () => {
    const answer = await fetch("/v1/records?kind=dispute&status=unresolved&limit=1", { credentials: "same-origin" }).then(r => r.json())
    return answer.items?.[0]?.id
  })
  check(firstCase, "the demo has an open dispute")
  const views = [
    ["overview", "#/", '.figure[data-figure="received"]'],
    ["overdue", "#/list/overdue", "#list-table"],
    ["search", "#/list/open?q=%E7%BA%A0%E7%BA%B7", "#list-table"],
    ["duplicates", "#/list/duplicates", "#list-dup-table"],
    ["case", `#/case/${firstCase}`, "#case-timeline"],
    ["report", "#/report", "#report-view"],
  ]
  let shots = 0
  for (const lang of ["zh", "en"]) {
    for (const [size, page] of Object.entries(contexts)) {
      await setLanguage(page, lang)
      for (const [name, hash, ready] of views) {
        await open(page, hash, ready)
        const where = `${name} (${lang}, ${size})`
        const problems = (await layoutProblems(page)).filter(p => size === "phone" || p.startsWith("the chart"))
        check(!problems.length, `${where}: ${problems.join("; ")}`)
        if (name === "overview") checkTicks(await chartTicks(page), where)
        if (lang === "zh") {
          const found = await englishOnChinesePage(page, english)
          check(!found.length, `${where}: English on the Chinese page: ${found.join("; ")}`)
        } else {
          const found = await chineseOnEnglishPage(page, names)
          check(!found.length, `${where}: Chinese in the English interface: ${found.join("; ")}`)
        }
        await page.screenshot({ path: join(ARTIFACTS, `dashboard-${name}-${lang}-${size}.png`), fullPage: true })
        shots += 1
        report("view", { name, lang, size })
      }
    }
  }

  // One village: small counts, where a chart library's own ticks would be
  // 0, 0.5, 1, 1.5 … unless told that counts are whole.
  const page = contexts.desktop
  const village = await page.evaluate(async () => {
    const answer = await fetch("/v1/stats/by-village", { credentials: "same-origin" }).then(r => r.json())
    const rows = answer.rows.filter(r => r.disputes.received > 0)
    rows.sort((a, b) => a.disputes.received - b.disputes.received)
    return rows[0]?.village
  })
  check(village, "a village with disputes")
  await setLanguage(page, "zh")
  await open(page, "#/", '.figure[data-figure="received"]')
  await page.selectOption("#scope", village)
  await page.click('#filters button[type="submit"]')
  await until(async () => {
    const ticks = await chartTicks(page)
    return ticks["chart-category"] && page.evaluate(v => window.location.hash === "#/" && document.getElementById("scope").value === v, village)
  }, "the village's charts")
  await page.waitForTimeout(500)
  const ticks = await chartTicks(page)
  const max = Math.max(...Object.values(ticks).flat())
  log(`village ${village}: ticks ${JSON.stringify(ticks)}`)
  checkTicks(ticks, `village ${village}`)
  report("village-ticks", { max, ticks })

  // A list's address carries its area: opened afresh (a bookmark), it shows
  // that village's open cases, and the area chooser says so.
  const busiest = await page.evaluate(async () => {
    const answer = await fetch("/v1/stats/by-village", { credentials: "same-origin" }).then(r => r.json())
    return answer.rows.reduce((a, b) => (b.disputes.stillOpen > a.disputes.stillOpen ? b : a)).village
  })
  const villageName = await page.evaluate(async v => {
    const places = await fetch("/v1/places", { credentials: "same-origin" }).then(r => r.json())
    return places.villages.find(p => p.code === v)?.name
  }, busiest)
  const expected = await page.evaluate(async v => {
    const answer = await fetch(`/v1/records?scope=${v}&kind=dispute&status=unresolved&per_page=50`, { credentials: "same-origin" }).then(r => r.json())
    return answer.total
  }, busiest)
  await page.goto(`${SERVER}/dashboard#/list/open?scope=${busiest}`)
  await until(() => page.evaluate(() => !document.getElementById("list-view").hidden &&
    /\d/.test(document.getElementById("list-page").textContent) && window.FQDashboard.state.list?.answer), "the bookmarked list")
  const bookmarked = await page.evaluate(() => ({
    scope: document.getElementById("scope").value,
    villages: [...document.querySelectorAll("#list-table tbody tr[data-id] td:nth-child(2)")].map(td => td.textContent),
    page: document.getElementById("list-page").textContent,
  }))
  check(bookmarked.scope === busiest, `the bookmarked list's area is the village: ${JSON.stringify(bookmarked)}`)
  check(bookmarked.villages.length === Math.min(expected, 50) && bookmarked.villages.every(v => v === villageName),
    `the bookmarked list shows the village's ${expected} open cases only: ${JSON.stringify(bookmarked)}`)
  report("bookmark", { village: busiest, cases: bookmarked.villages.length, expected })

  // The duplicates have a list of their own: searched by a shared name, and
  // empty for a name nobody has.
  await page.evaluate(() => { window.location.hash = "#/" })
  await page.selectOption("#scope", await page.evaluate(() => window.FQDashboard.state.root))
  await page.click('#filters button[type="submit"]')
  const pair = await page.evaluate(async () => {
    const answer = await fetch("/v1/duplicates", { credentials: "same-origin" }).then(r => r.json())
    return answer.pairs[0]
  })
  check(pair && pair.sharedNames.length, "the demo has a possible duplicate")
  const name = pair.sharedNames[0]
  await open(page, `#/list/duplicates?q=${encodeURIComponent(name)}`, "#list-dup-table")
  const found = await until(() => page.evaluate(() => {
    const rows = [...document.querySelectorAll("#list-dup-table tbody tr[data-pair]")].map(r => r.innerText)
    return rows.length ? rows : null
  }), "pairs found by a shared name")
  check(found.every(row => row.includes(name)), `every pair found names ${name}: ${JSON.stringify(found)}`)
  await open(page, `#/list/duplicates?q=${encodeURIComponent("无此人名")}`, "#list-dup-table")
  await until(() => page.evaluate(() => !!document.querySelector("#list-dup-table tbody td.empty")), "no pair for a name nobody has")
  report("duplicates", { name, pairs: found.length })
  report("shots", { count: shots })
})
