// A development stand-in for @fengqiao/client's FieldClient, used ONLY by
// `node build.mjs --mock` (never in the production bundle). It keeps its data
// in localStorage so a reload keeps it, seeds a few records at set-up, and
// simulates a sync with a progress count. window.__fieldMock exposes it to
// screenshot scripts (signOutByAdmin, addNews, setAttention, goOffline).

const KEY = 'fengqiao-mock-client';
const DAY = 86_400_000;

export class SetupError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}
export class ValidationError extends Error {
  constructor(errors) {
    super(errors.map((e) => `${e.field}: ${e.code}`).join('; '));
    this.errors = errors;
  }
}

export async function init() {}

export function isOverdue(s, now, days = 30) {
  return s.kind === 'dispute' && s.status !== 'resolved' && s.createdAt < now - days * DAY;
}
export function followUpPending(s) {
  return s.kind === 'visit' && s.followUpNeeded && !s.followUpDone;
}
export function followUpOverdue(s, now) {
  return followUpPending(s) && s.followUpDue != null && s.followUpDue < now;
}
export async function openIdbStore() {
  return { kind: 'mock' };
}

function b64urlDecode(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

function parseSetup(text) {
  let s = String(text ?? '').trim();
  const at = s.indexOf('#setup=');
  if (at >= 0) s = s.slice(at + 7);
  let json;
  try {
    json = JSON.parse(s.startsWith('{') ? s : b64urlDecode(s));
  } catch {
    throw new SetupError('bad_setup', 'not a set-up link, base64url or JSON');
  }
  if (!json || typeof json.server !== 'string' || typeof json.token !== 'string' || typeof json.device !== 'string') {
    throw new SetupError('bad_setup', 'set-up needs server, token and device');
  }
  return json;
}

let counter = 0;
function newId() {
  counter += 1;
  const alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
  let s = '';
  let n = Date.now() * 1000 + counter + Math.floor(Math.random() * 1000);
  for (let i = 0; i < 22; i++) {
    s += alphabet[(n + i * 7919) % alphabet.length];
    n = Math.floor(n / 3) + 17;
  }
  return s;
}

const STATUS_AFTER = {
  reported: 'open',
  mediation: 'mediating',
  reopened: 'mediating',
  agreement: 'resolved',
  resolved: 'resolved',
  failed: 'failed',
  escalated: 'escalated',
};

function summarize(id, r) {
  const events = [...(r.events ?? [])].sort((a, b) => a.at - b.at || (a.by < b.by ? -1 : a.by > b.by ? 1 : 0));
  let status = 'open';
  let level = null;
  for (const e of events) {
    if (STATUS_AFTER[e.kind]) {
      status = STATUS_AFTER[e.kind];
      level = e.kind === 'escalated' ? e.level : null;
    }
  }
  const last = Math.max(r.createdAt, ...(r.events ?? []).map((e) => e.at), r.visitedAt ?? 0);
  if (r.kind === 'dispute') {
    return {
      id, kind: 'dispute', village: r.village, createdAt: r.createdAt, createdBy: r.createdBy, lastActivity: last,
      title: r.title, status, category: r.category, risk: r.risk, escalationLevel: level, maxEscalationLevel: level,
      resolvedAt: null, partyNames: r.parties.map((p) => p.name), assignees: r.assignees ?? [], eventCount: events.length,
      duplicateOf: null, visitedAt: null, sentiment: null, topics: [], followUpNeeded: false, followUpDone: false,
      followUpDue: null, linkedDispute: null,
    };
  }
  return {
    id, kind: 'visit', village: r.village, createdAt: r.createdAt, createdBy: r.createdBy, lastActivity: last,
    title: r.household, status: null, category: null, risk: null, escalationLevel: null, maxEscalationLevel: null,
    resolvedAt: null, partyNames: [], assignees: [], eventCount: 0, duplicateOf: null, visitedAt: r.visitedAt,
    sentiment: r.sentiment, topics: r.topics, followUpNeeded: r.followUp.needed, followUpDone: r.followUp.done,
    followUpDue: r.followUp.dueAt ?? null, linkedDispute: null,
  };
}

function seed(person, village, now) {
  const other = 'p-limei';
  const d = (title, category, risk, parties, events, ago, extra = {}) => ({
    kind: 'dispute', village, createdAt: now - ago, createdBy: ago > 40 * DAY ? other : person, title,
    description: `${title}。双方多次协商未果，请求村里出面调解。`, category, risk,
    parties, assignees: [person], events, ...extra,
  });
  const p = (name, role, phone) => ({ name, role, phone });
  const v = (household, group, topics, sentiment, notes, ago, followUp) => ({
    kind: 'visit', village, createdAt: now - ago, createdBy: person, visitedAt: now - ago, household, group, topics,
    sentiment, notes, followUp,
  });
  return [
    ['d1', d('张家与李家宅基地边界纠纷', 'land', 'high', [p('张明', 'applicant', '13800000001'), p('李强', 'respondent')],
      [{ at: now - 3 * DAY, by: person, kind: 'mediation', note: '第一次现场调解，双方同意重新测量。' },
       { at: now - 2 * DAY, by: other, kind: 'escalated', level: 'town' },
       { at: now - 1 * DAY, by: other, kind: 'note', note: '镇司法所已受理。' }], 5 * DAY),
      'synced', null,
      { eventsAdded: [{ by: other, kind: 'escalated', at: now - 2 * DAY, level: 'town' }, { by: other, kind: 'note', at: now - DAY }],
        statusBefore: 'mediating', statusAfter: 'escalated', riskBefore: 'medium', riskAfter: 'high', riskConflict: ['medium', 'high'], sentimentConflict: null }],
    ['d2', d('王大妈与邻居噪音纠纷', 'neighbor', 'low', [p('王秀英', 'applicant'), p('赵刚', 'respondent')],
      [{ at: now - 6 * DAY, by: person, kind: 'mediation' }, { at: now - 5 * DAY, by: person, kind: 'agreement', note: '双方签订调解协议。' }], 8 * DAY),
      'synced', null, null],
    ['d3', d('陈某拖欠工资', 'labor', 'medium', [p('刘洋', 'applicant', '13900000002'), p('陈建华', 'respondent')], [], 45 * DAY),
      'synced', null, null],
    ['d4', d('兄弟分家赡养老人纠纷', 'family', 'medium', [p('周大伟', 'applicant'), p('周小伟', 'respondent'), p('周母', 'other')],
      [{ at: now - 2 * 3600_000, by: person, kind: 'mediation', note: '已约定下周再谈。' }], 1 * DAY),
      'unsent', null, null],
    ['d5', d('山林承包合同到期争议', 'contract', 'high', [p('吴海', 'applicant'), p('村经济合作社', 'respondent')], [], 2 * DAY),
      'attention', { code: 'invalid_record', message: 'parties[1].name: empty' }, null],
    ['v1', v('张明家（3 组 12 号）', '第三村民小组', ['livelihood', 'health'], 'concern', '老人腿脚不便，希望村里帮忙申请轮椅。', 3 * DAY,
      { needed: true, done: false, dueAt: now - DAY }), 'synced', null, null],
    ['v2', v('李桂兰', '第一村民小组', ['policy'], 'positive', '咨询医保缴费，已解答。', 10 * DAY, { needed: false, done: false }), 'synced', null, null],
    ['v3', v('赵家（5 组）', '第五村民小组', ['infrastructure', 'safety'], 'urgent', '村道路灯损坏，夜间出行不安全。', 6 * 3600_000,
      { needed: true, done: false, dueAt: now + 2 * DAY }), 'unsent', null, null],
  ].map(([key, r, sync, attention, news]) => ({ id: `mock${key}AbCdEfGhJkLmNpQr`, r, sync, attention, news }));
}

export class FieldClient {
  static async open(options = {}) {
    const c = new FieldClient(options);
    globalThis.__fieldMock = c;
    return c;
  }

  constructor({ now = Date.now } = {}) {
    this.now = now;
    this.listeners = new Set();
    const saved = JSON.parse(globalThis.localStorage?.getItem(KEY) ?? 'null');
    this.db = saved ?? { identity: null, records: [], lastSync: null, signedOut: null };
    this.online = globalThis.navigator?.onLine ?? true;
    this.syncing = false;
    this.progress = null;
    this.error = null;
    globalThis.addEventListener?.('online', () => { this.online = true; this.emit(); this.syncNow(); });
    globalThis.addEventListener?.('offline', () => { this.online = false; this.emit(); });
  }

  save() {
    globalThis.localStorage?.setItem(KEY, JSON.stringify(this.db));
  }
  emit() {
    this.save();
    for (const fn of this.listeners) fn();
  }
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get identity() {
    return this.db.identity;
  }
  get status() {
    return { online: this.online, syncing: this.syncing, lastSync: this.db.lastSync, progress: this.progress, error: this.error, signedOut: this.db.signedOut };
  }

  async setup(text) {
    if (this.db.identity) throw new SetupError('already_set_up', 'this phone already holds a device');
    const s = parseSetup(text);
    if (s.token === 'fq_bad') throw new SetupError('unauthorized', 'invalid device token');
    if (!this.online) throw new SetupError('offline', 'no connection');
    await new Promise((r) => setTimeout(r, 150));
    const village = '330681101201';
    this.db = {
      identity: { device: s.device, person: 'p-wang', personName: '王建国', label: '王建国的手机', role: 'cadre', scope: village, write: true, server: s.server },
      records: seed('p-wang', village, this.now()),
      lastSync: null,
      signedOut: null,
    };
    this.emit();
    return this.db.identity;
  }

  async signOutAndErase() {
    this.db = { identity: null, records: [], lastSync: null, signedOut: null };
    this.emit();
  }

  row(x) {
    return { id: x.id, summary: summarize(x.id, x.r), sync: x.sync, attention: x.attention, news: x.news };
  }

  async list(f = {}) {
    const now = this.now();
    const q = (f.search ?? '').trim().toLowerCase();
    return this.db.records
      .map((x) => this.row(x))
      .filter(({ summary: s }) =>
        (!q || s.title.toLowerCase().includes(q) || s.partyNames.some((n) => n.toLowerCase().includes(q))) &&
        (!f.kind || s.kind === f.kind) && (!f.status || s.status === f.status) &&
        (!f.category || s.category === f.category) && (!f.risk || s.risk === f.risk) &&
        (!f.overdue || (s.kind === 'dispute' && s.status !== 'resolved' && now - s.createdAt > 30 * DAY)) &&
        (!f.needsFollowUp || (s.followUpNeeded && !s.followUpDone)))
      .sort((a, b) => b.summary.lastActivity - a.summary.lastActivity);
  }

  async today() {
    const all = await this.list();
    const now = this.now();
    return {
      followUpsDue: all.filter((x) => x.summary.followUpNeeded && !x.summary.followUpDone && (x.summary.followUpDue ?? 0) <= now + DAY),
      overdue: await this.list({ overdue: true }),
      assignedToMe: all.filter((x) => x.summary.assignees.includes(this.db.identity?.person) && x.summary.status !== 'resolved'),
      attention: all.filter((x) => x.sync === 'attention'),
    };
  }

  async get(id) {
    const x = this.db.records.find((r) => r.id === id);
    if (!x) return null;
    return { id, record: x.r, summary: summarize(id, x.r), sync: x.sync, attention: x.attention, news: x.news };
  }

  author() {
    return { cadre: this.db.identity.person, at: this.now() };
  }

  async createDispute(fields) {
    const errors = [];
    if (!fields.title?.trim()) errors.push({ field: 'title', code: 'empty', message: 'title is empty' });
    fields.parties?.forEach((p, i) => { if (!p.name?.trim()) errors.push({ field: `parties[${i}].name`, code: 'empty', message: 'empty' }); });
    if (errors.length) throw new ValidationError(errors);
    const id = newId();
    const a = this.author();
    this.db.records.push({ id, sync: 'unsent', attention: null, news: null, r: {
      kind: 'dispute', village: fields.village ?? this.db.identity.scope, createdAt: a.at, createdBy: a.cadre,
      title: fields.title, description: fields.description ?? '', category: fields.category, risk: fields.risk,
      parties: fields.parties ?? [], assignees: fields.assignees ?? [a.cadre], events: [],
    } });
    this.emit();
    return id;
  }

  async createVisit(fields) {
    const id = newId();
    const a = this.author();
    this.db.records.push({ id, sync: 'unsent', attention: null, news: null, r: {
      kind: 'visit', village: fields.village ?? this.db.identity.scope, createdAt: a.at, createdBy: a.cadre,
      visitedAt: fields.visitedAt ?? a.at, household: fields.household, group: fields.group ?? null, topics: fields.topics ?? [],
      sentiment: fields.sentiment, notes: fields.notes ?? '', followUp: { needed: !!fields.followUp?.needed, done: false, dueAt: fields.followUp?.dueAt ?? null },
    } });
    this.emit();
    return id;
  }

  mutate(id, fn) {
    const x = this.db.records.find((r) => r.id === id);
    if (!x) throw new Error('no such record');
    fn(x.r);
    x.sync = 'unsent';
    this.emit();
  }
  async addEvent(id, ev) {
    if (ev.kind === 'escalated' && !ev.level) throw new ValidationError([{ field: 'events[0].level', code: 'missing_field', message: 'level' }]);
    const a = this.author();
    this.mutate(id, (r) => r.events.push({ at: a.at, by: a.cadre, ...ev }));
  }
  async setRisk(id, risk) {
    this.mutate(id, (r) => { r.risk = risk; });
  }
  async assign(id, cadre) {
    this.mutate(id, (r) => { if (!r.assignees.includes(cadre)) r.assignees.push(cadre); });
  }
  async scheduleFollowUp(id, dueAt = null) {
    this.mutate(id, (r) => { r.followUp = { needed: true, done: false, dueAt: dueAt ?? r.followUp.dueAt }; });
  }
  async markFollowUpDone(id) {
    this.mutate(id, (r) => { r.followUp.done = true; });
  }
  async retry(id) {
    const x = this.db.records.find((r) => r.id === id);
    if (x) { x.attention = null; x.sync = 'unsent'; this.emit(); }
  }
  async discardLocalChanges(id) {
    this.db.records = this.db.records.filter((r) => r.id !== id);
    this.emit();
  }
  async markSeen(id) {
    const x = this.db.records.find((r) => r.id === id);
    if (x && x.news) { x.news = null; this.emit(); }
  }

  async duplicatesFor(draft) {
    const names = new Set((draft.parties ?? []).map((p) => p.name?.trim()).filter(Boolean));
    if (!names.size) return [];
    return this.db.records
      .filter((x) => x.r.kind === 'dispute' && x.r.village === draft.village && x.r.parties.some((p) => names.has(p.name)))
      .map((x) => ({ id: x.id, summary: summarize(x.id, x.r) }));
  }

  async people() {
    return new Map([['p-wang', '王建国'], ['p-limei', '李梅']]);
  }

  async places() {
    return new Map([['330681101201', '枫源村'], ['330681101', '枫桥镇']]);
  }

  async exportUnsent() {
    const records = this.db.records.filter((x) => x.sync !== 'synced').map((x) => ({ id: x.id, summary: summarize(x.id, x.r), base64: btoa(JSON.stringify(x.r).replace(/[^\x00-\x7f]/g, '?')) }));
    return { exportedAt: this.now(), device: this.db.identity?.device ?? this.db.signedOut?.device ?? null, records };
  }

  async syncNow() {
    if (this.syncing || !this.db.identity) return {};
    if (!this.online) { this.error = { code: 'offline', message: 'no connection' }; this.emit(); return {}; }
    this.syncing = true;
    this.error = null;
    const total = this.db.lastSync ? 0 : 1204;
    for (let done = 0; done < total; done += 301) {
      this.progress = { done, total };
      this.emit();
      await new Promise((r) => setTimeout(r, 120));
    }
    for (const x of this.db.records) if (x.sync === 'unsent') x.sync = 'synced';
    this.progress = null;
    this.syncing = false;
    this.db.lastSync = this.now();
    this.emit();
    return {};
  }

  // --- hooks for screenshot scripts ---
  signOutByAdmin() {
    const kept = this.db.records.filter((x) => x.sync !== 'synced');
    this.db = { identity: null, records: kept, lastSync: this.db.lastSync, signedOut: { reason: 'unauthorized', kept: kept.length } };
    this.emit();
  }
  seedMany(n) {
    const base = this.db.records.filter((x) => x.r.kind === 'dispute');
    const now = this.now();
    for (let i = 0; i < n; i++) {
      const from = base[i % base.length];
      const r = JSON.parse(JSON.stringify(from.r));
      r.title = `${r.title} #${i}`;
      r.createdAt = now - (i % 90) * DAY - i;
      this.db.records.push({ id: `many${i}xxxxxxxxxxxxxxxx`, r, sync: 'synced', attention: null, news: null });
    }
    this.emit();
  }
  setProgress(done, total) {
    this.syncing = true;
    this.progress = { done, total };
    this.emit();
  }
}
