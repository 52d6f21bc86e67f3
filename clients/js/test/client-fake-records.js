// A small stand-in for the records module (src/record/index.js, written
// separately) so the client and sync tests run on their own. It writes
// documents of the same shape as shared/src/record (Rust), enough for the
// server to accept them; validation here checks only what the tests need.
import { A } from '../src/automerge.js';

const S = (/** @type {string} */ v) => new A.ImmutableString(v);

/**
 * @param {any} doc
 * @param {{cadre: string, at: number}} author
 * @param {string} message
 * @param {(d: any) => void} fn
 */
function edit(doc, author, message, fn) {
  return A.change(doc, { message, time: Math.floor(author.at / 1000) }, fn);
}

/** @param {string} s */
const str = (s) => (s == null ? s : String(s));

export function createDispute(doc, author, f) {
  return edit(doc ?? A.init(), author, `dispute reported: ${f.title}`, (d) => {
    d.type = S('dispute');
    d.schema = 1;
    d.village = S(f.village);
    d.createdAt = new Date(author.at);
    d.createdBy = S(author.cadre);
    d.title = f.title;
    d.description = f.description ?? '';
    d.category = S(f.category ?? 'other');
    d.risk = S(f.risk ?? 'low');
    d.parties = (f.parties ?? []).map((/** @type {any} */ p) => {
      /** @type {any} */
      const party = { name: S(p.name), role: S(p.role ?? 'applicant') };
      if (p.phone) party.phone = S(p.phone);
      if (p.note) party.note = S(p.note);
      return party;
    });
    d.assignees = {};
    for (const a of f.assignees ?? []) d.assignees[a] = true;
    d.events = [{ at: new Date(author.at), by: S(author.cadre), kind: S('reported') }];
    d.links = { related: {} };
  });
}

export function createVisit(doc, author, f) {
  return edit(doc ?? A.init(), author, `visit recorded: ${f.household}`, (d) => {
    d.type = S('visit');
    d.schema = 1;
    d.village = S(f.village);
    d.createdAt = new Date(author.at);
    d.createdBy = S(author.cadre);
    d.visitedAt = new Date(f.visitedAt ?? author.at);
    d.household = f.household;
    if (f.group) d.group = f.group;
    d.topics = {};
    for (const t of f.topics ?? []) d.topics[t] = true;
    d.sentiment = S(f.sentiment ?? 'neutral');
    d.notes = f.notes ?? '';
    if (f.followUp) {
      d.followUp = { needed: !!f.followUp.needed, done: false };
      if (f.followUp.dueAt) d.followUp.dueAt = new Date(f.followUp.dueAt);
    }
  });
}

export function addEvent(doc, author, ev) {
  return edit(doc, author, `event: ${ev.kind}`, (d) => {
    /** @type {any} */
    const e = { at: new Date(author.at), by: S(author.cadre), kind: S(ev.kind) };
    if (ev.level) e.level = S(ev.level);
    if (ev.note) e.note = ev.note;
    d.events.push(e);
  });
}

const RISKS = ['low', 'medium', 'high'];

export function setRisk(doc, author, risk) {
  return edit(doc, author, `risk set to ${risk}`, (d) => {
    d.risk = S(risk);
  });
}

export function setTitle(doc, author, title) {
  return edit(doc, author, 'title edited', (d) => {
    d.title = title;
  });
}

const STATUS = { mediation: 'mediating', agreement: 'resolved', resolved: 'resolved', failed: 'failed', escalated: 'escalated', reopened: 'open' };

/** @param {any} doc */
function statusOf(doc) {
  let status = 'open';
  for (const e of doc.events ?? []) {
    const k = String(e.kind);
    if (k in STATUS) status = /** @type {any} */ (STATUS)[k];
  }
  return status;
}

/** @param {any} doc */
function riskOf(doc) {
  const values = A.getConflicts(doc, 'risk');
  if (!values) return doc.risk == null ? null : String(doc.risk);
  return Object.values(values)
    .map(String)
    .sort((a, b) => RISKS.indexOf(b) - RISKS.indexOf(a))[0];
}

export function readRecord(doc) {
  if (doc.type == null) throw Object.assign(new Error('not a record'), { code: 'missing_field' });
  return JSON.parse(JSON.stringify(doc));
}

export function summarize(doc) {
  if (doc.type == null) return null;
  const kind = String(doc.type);
  const times = [+doc.createdAt, ...(doc.events ?? []).map((/** @type {any} */ e) => +e.at)];
  if (doc.visitedAt) times.push(+doc.visitedAt);
  return {
    kind,
    village: String(doc.village),
    createdAt: +doc.createdAt,
    createdBy: String(doc.createdBy),
    lastActivity: Math.max(...times),
    title: kind === 'dispute' ? String(doc.title ?? '') : String(doc.household ?? ''),
    status: kind === 'dispute' ? statusOf(doc) : null,
    category: doc.category == null ? null : String(doc.category),
    risk: kind === 'dispute' ? riskOf(doc) : null,
    partyNames: (doc.parties ?? []).map((/** @type {any} */ p) => String(p.name)),
    assignees: Object.keys(doc.assignees ?? {}).sort(),
    eventCount: (doc.events ?? []).length,
    sentiment: doc.sentiment == null ? null : String(doc.sentiment),
    followUpNeeded: !!doc.followUp?.needed,
    followUpDone: !!doc.followUp?.done,
    followUpDue: doc.followUp?.dueAt ? +doc.followUp.dueAt : null,
  };
}

/** Errors the next validate() call returns (tests set it). */
export const next = { errors: /** @type {any[]} */ ([]) };

export function validate() {
  const errors = next.errors;
  next.errors = [];
  return errors;
}

export function checkAuthorship() {
  return [];
}

export function describeMerge(before, after, me) {
  const old = new Set((before.events ?? []).map((/** @type {any} */ e) => `${+e.at}|${e.by}|${e.kind}`));
  const added = (after.events ?? [])
    .filter((/** @type {any} */ e) => !old.has(`${+e.at}|${e.by}|${e.kind}`) && String(e.by) !== me)
    .map((/** @type {any} */ e) => ({ by: String(e.by), kind: String(e.kind), at: +e.at }));
  const riskBefore = before.risk == null ? null : riskOf(before);
  const riskAfter = after.risk == null ? null : riskOf(after);
  const conflict = A.getConflicts(after, 'risk');
  if (added.length === 0 && riskBefore === riskAfter && !conflict) return null;
  return {
    eventsAdded: added,
    statusBefore: statusOf(before),
    statusAfter: statusOf(after),
    riskBefore,
    riskAfter,
    riskConflict: conflict ? Object.values(conflict).map(String).sort() : null,
    sentimentConflict: null,
  };
}

export function possibleDuplicates(draft, summaries) {
  const names = new Set(draft.parties.map((/** @type {any} */ p) => p.name));
  return summaries
    .filter((s) => s.kind === 'dispute' && s.village === draft.village && s.partyNames.some((/** @type {string} */ n) => names.has(n)))
    .map((s) => s.id);
}

export const schema = { overdueDays: 30 };
