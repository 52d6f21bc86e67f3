// What a cadre does in the field app, as steps the scenarios share. Every
// element is found by its data-testid (apps/field/TESTIDS.md lists them);
// every wait is bounded (STEP_MS unless said).

import { SERVER, STEP_MS, check, log, until } from "./lib.mjs"

export const APP = `${SERVER}/field`

export const id = (page, testid) => page.getByTestId(testid)

/// Opens a set-up link in a fresh page and waits until the app shows its
/// screens (navigation bar) for the enrolled device.
export async function enrollByLink(page, link) {
  await page.goto(link)
  await id(page, "nav").waitFor()
}

/// Waits until the service worker controls the page and has the app shell,
/// so that the app opens with the network off.
export async function waitOfflineReady(page) {
  await page.waitForFunction(
    async () => {
      const registration = await navigator.serviceWorker.getRegistration("/field")
      if (!registration?.active) return false
      const names = await caches.keys()
      for (const name of names) {
        const cache = await caches.open(name)
        const keys = await cache.keys()
        if (keys.some(request => new URL(request.url).pathname.endsWith("/app.js"))) return true
      }
      return false
    },
    null,
    { timeout: STEP_MS, polling: 200 },
  )
}

/// The sync bar's state: {online, syncing, lastSync text, error code}.
export async function syncState(page) {
  // Read in one step: the error line comes and goes as syncs start and end,
  // and a locator waiting for one that just went would wait out its timeout.
  await id(page, "sync-state").waitFor()
  return page.evaluate(() => {
    const get = (testid, name) => document.querySelector(`[data-testid="${testid}"]`)?.getAttribute(name) ?? null
    return {
      online: get("sync-state", "data-online") === "true",
      syncing: get("sync-state", "data-syncing") === "true",
      lastSync: Number(get("last-sync", "data-last-sync") || 0),
      error: get("sync-error", "data-code"),
    }
  })
}

/// Taps "sync now" (when the app is not already syncing) and waits until a
/// sync that started after the tap is over and succeeded. (An error shown
/// from an earlier attempt does not count: it is hidden while syncing.)
export async function syncNow(page, ms = STEP_MS) {
  await until(async () => (await syncState(page)).online, "the app says it is online", ms)
  await until(async () => !(await syncState(page)).syncing, "the previous sync is over", ms)
  const before = (await syncState(page)).lastSync
  await id(page, "sync-now").click()
  let started = false
  await until(
    async () => {
      const state = await syncState(page)
      if (state.syncing) started = true
      if (!state.syncing && state.lastSync > before) return true
      if (started && !state.syncing && state.error) throw new Error(`sync error ${state.error}`)
      return false
    },
    "the sync asked for is over",
    ms,
  )
}

/// Waits until the app is not syncing and shows no sync error.
export async function waitSynced(page, ms = STEP_MS) {
  await until(
    async () => {
      const state = await syncState(page)
      if (state.error) throw new Error(`sync error ${state.error}`)
      return !state.syncing && state.lastSync > 0
    },
    "the sync is over",
    ms,
  )
}

export async function gotoRecords(page) {
  await id(page, "nav-records").click()
  await id(page, "records").waitFor()
  await id(page, "record-count").waitFor()
}

/// The rows the record list shows: [{id, kind, sync, text}].
export async function rows(page) {
  await gotoRecords(page)
  return page.getByTestId("record-row").evaluateAll(nodes =>
    nodes.map(n => ({ id: n.dataset.id, kind: n.dataset.kind, sync: n.dataset.sync, text: n.textContent })),
  )
}

/// Waits until the list shows `ids` (all of them) with `sync` state, if given.
export async function waitRows(page, ids, sync, ms = STEP_MS) {
  return until(
    async () => {
      const shown = await rows(page)
      const byId = new Map(shown.map(r => [r.id, r]))
      return ids.every(i => byId.has(i) && (!sync || byId.get(i).sync === sync)) && shown
    },
    `the list shows ${ids.join(", ")}${sync ? ` as ${sync}` : ""}`,
    ms,
  )
}

export async function openRecord(page, recordId) {
  await gotoRecords(page)
  await page.locator(`[data-testid="record-row"][data-id="${recordId}"]`).click()
  await page.locator(`[data-testid="record"][data-id="${recordId}"]`).waitFor()
}

/// Types `text` into a field as a pinyin input method does: a composition
/// of Latin letters shown in the field (compositionstart/update), then the
/// chosen characters committed (compositionend), through the browser's own
/// IME events (Chrome DevTools Protocol), one word at a time.
export async function imeType(page, locator, words) {
  await locator.click()
  const cdp = await page.context().newCDPSession(page)
  try {
    for (const [pinyin, hanzi] of words) {
      for (let i = 1; i <= pinyin.length; i++) {
        const typed = pinyin.slice(0, i)
        await cdp.send("Input.imeSetComposition", { text: typed, selectionStart: typed.length, selectionEnd: typed.length })
      }
      await cdp.send("Input.insertText", { text: hanzi })
    }
  } finally {
    await cdp.detach()
  }
}

/// Fills and saves the new-dispute form; returns the new record's id. With
/// `titleWords` ([[pinyin, 汉字], …]) the title is typed through the input
/// method instead of pasted.
export async function createDispute(page, { title, titleWords, description, category, risk, parties }) {
  await id(page, "new-dispute").click()
  await id(page, "dispute-form").waitFor()
  if (titleWords) {
    await imeType(page, id(page, "field-title"), titleWords)
    const typed = await id(page, "field-title").inputValue()
    check(typed === title, `the input method typed ${JSON.stringify(typed)}, not ${JSON.stringify(title)}`)
  } else {
    await id(page, "field-title").fill(title)
  }
  await id(page, "field-category").selectOption(category)
  if (risk) await id(page, "field-risk").selectOption(risk)
  if (description) await id(page, "field-description").fill(description)
  for (const [i, party] of parties.entries()) {
    if ((await id(page, `party-name-${i}`).count()) === 0) await id(page, "party-add").click()
    await id(page, `party-name-${i}`).fill(party.name)
    if (party.role) await id(page, `party-role-${i}`).selectOption(party.role)
    if (party.phone) await id(page, `party-phone-${i}`).fill(party.phone)
  }
  await id(page, "save").click()
  const record = id(page, "record")
  await record.waitFor()
  const recordId = await record.getAttribute("data-id")
  check(recordId, "the new dispute's page has its id")
  log(`created dispute ${recordId}: ${title}`)
  return recordId
}

/// Fills and saves the new-visit form; returns the new record's id.
export async function createVisit(page, { household, group, topics, sentiment, notes, followUpDue }) {
  await id(page, "new-visit").click()
  await id(page, "visit-form").waitFor()
  await id(page, "field-household").fill(household)
  if (group) await id(page, "field-group").fill(group)
  for (const topic of topics ?? []) await id(page, `topic-${topic}`).click()
  await id(page, "field-sentiment").selectOption(sentiment)
  if (notes) await id(page, "field-notes").fill(notes)
  if (followUpDue) {
    await id(page, "field-followup").check()
    await id(page, "field-due").fill(followUpDue)
  }
  await id(page, "save").click()
  const record = id(page, "record")
  await record.waitFor()
  const recordId = await record.getAttribute("data-id")
  check(recordId, "the new visit's page has its id")
  log(`created visit ${recordId}: ${household}`)
  return recordId
}

/// On a dispute's page: adds an event and waits until the timeline has it.
export async function addEvent(page, { kind, note, level, satisfied }) {
  const before = await page.getByTestId("timeline-event").count()
  await id(page, "event-kind").selectOption(kind)
  if (level) await id(page, "event-level").selectOption(level)
  if (satisfied === true) await id(page, "event-satisfied-yes").click()
  if (satisfied === false) await id(page, "event-satisfied-no").click()
  if (note) await id(page, "event-note").fill(note)
  await id(page, "event-add").click()
  await until(async () => (await page.getByTestId("timeline-event").count()) > before, `the ${kind} event on the timeline`)
}

/// On a dispute's page: sets the risk and waits until the page shows it.
export async function setRisk(page, risk) {
  await id(page, `set-risk-${risk}`).click()
  await until(async () => (await id(page, `set-risk-${risk}`).getAttribute("aria-pressed")) === "true", `risk ${risk} shown`)
}

/// On a record's page: the timeline as [{kind, text}].
export async function timelineOf(page) {
  return page.getByTestId("timeline-event").evaluateAll(nodes => nodes.map(n => ({ kind: n.dataset.kind, text: n.textContent })))
}

export async function settings(page) {
  await id(page, "nav-settings").click()
  await id(page, "settings").waitFor()
}
