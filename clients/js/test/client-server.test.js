// End to end: FieldClient against a real `fengqiao serve` on 127.0.0.1.
// Runs when FENGQIAO_BIN names the binary; otherwise it skips loudly (and
// fails under FENGQIAO_REQUIRE_ALL=1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';

import { init, A } from '../src/automerge.js';
import { FieldClient, defaultRecords } from '../src/client.js';
import { MemoryStore } from '../src/store/memory.js';
import { openIdbStore } from '../src/store/idb.js';
import { IDBFactory } from 'fake-indexeddb';
import * as fake from './client-fake-records.js';

const BIN = process.env.FENGQIAO_BIN;
const REQUIRE_ALL = process.env.FENGQIAO_REQUIRE_ALL === '1';
const ADMIN = 'client-server-admin-token-0123456789';
const VILLAGE = '500110101001';
const OTHER_VILLAGE = '500110101002';

/** The package's records API once it exists, else the test stand-in. */
async function recordsModule() {
  try {
    const real = await defaultRecords();
    console.error('client-server.test.js: using the real records API');
    return real;
  } catch {
    console.error('client-server.test.js: the records API is not in this tree; using the test stand-in');
    return fake;
  }
}

if (!BIN) {
  const bar = '!'.repeat(72);
  console.error(`\n${bar}\n!!! SKIPPED: client-server.test.js did NOT run: FENGQIAO_BIN is not set.\n!!! Set FENGQIAO_BIN=/path/to/fengqiao (e.g. target/debug/fengqiao) to run it.\n${bar}\n`);
  test('client against a real server', () => {
    if (REQUIRE_ALL) assert.fail('FENGQIAO_REQUIRE_ALL=1 but FENGQIAO_BIN is not set');
  });
} else {
  /** @type {import('node:child_process').ChildProcess} */
  let server;
  let url = '';
  let dir = '';
  let records;

  before(async () => {
    await init();
    records = await recordsModule();
    dir = await mkdtemp(join(tmpdir(), 'fengqiao-js-'));
    server = spawn(BIN, ['serve', '--bind', '127.0.0.1:0', '--data', join(dir, 'data')], {
      env: { ...process.env, FENGQIAO_ADMIN_TOKEN: ADMIN, FENGQIAO_LOG: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    url = await new Promise((resolve, reject) => {
      const lines = createInterface({ input: /** @type {any} */ (server.stdout) });
      const timer = setTimeout(() => reject(new Error('the server did not announce its address in 60 s')), 60_000);
      lines.on('line', (line) => {
        const m = /http:\/\/[0-9.]+:\d+/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[0]);
        }
      });
      server.on('exit', (code) => reject(new Error(`the server exited (${code}) before serving`)));
    });
    let csv = '500110,綦江区\n500110101,第101镇\n';
    for (let v = 1; v <= 3; v++) csv += `500110101${String(v).padStart(3, '0')},第${v}村\n`;
    const org = await admin('POST', '/v1/admin/org', { format: 'csv', text: csv });
    assert.equal(org.status, 200, await org.text());
    for (const [id, name] of [['li-mei', '李梅'], ['wang-qiang', '王强'], ['zhao-town', '赵镇']]) {
      const r = await admin('POST', '/v1/admin/people', { id, name });
      assert.equal(r.status, 200, await r.text());
    }
  });

  after(async () => {
    server?.kill('SIGKILL');
    await new Promise((r) => (server.exitCode !== null ? r(undefined) : server.once('exit', r)));
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   */
  function admin(method, path, body) {
    return fetch(`${url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  /** Enrolls through the CLI and returns the set-up link it prints. */
  async function enrollLink(person, role, scope) {
    const { stdout } = await promisify(execFile)(BIN, ['admin', '--server', url, '--admin-token', ADMIN, 'enroll', '--person', person, '--role', role, '--scope', scope]);
    const link = /https?:\/\/\S+\/field#setup=\S+/.exec(stdout);
    assert.ok(link, `no set-up link in:\n${stdout}`);
    return link[0];
  }

  /** Enrolls through the admin API; returns the set-up JSON text and the device id. */
  async function enrollJson(person, role, scope) {
    const r = await admin('POST', '/v1/admin/devices', { person, role, scope });
    const body = await r.json();
    assert.equal(r.status, 200, JSON.stringify(body));
    return { text: JSON.stringify(body.setup), device: body.setup.device };
  }

  /** Content-Encoding of every sync request sent, and its HTTP status. */
  const sent = [];
  const watched = async (url, init) => {
    const response = await fetch(url, init);
    if (String(url).endsWith('/v1/sync')) sent.push({ encoding: new Headers(init.headers).get('content-encoding'), status: response.status });
    return response;
  };

  async function phone(store = new MemoryStore()) {
    return FieldClient.open({ store, records, baseUrl: null, fetch: watched, autoSync: false, listenNetwork: false });
  }

  const dispute = (title, names) => ({
    title,
    description: '东头两家为宅基地边界争执',
    category: 'land',
    risk: 'medium',
    parties: names.map((name, i) => ({ name, role: i === 0 ? 'applicant' : 'respondent' })),
  });

  test('records made on one phone reach another through the server, and merges come back', async () => {
    const a = await phone(await openIdbStore({ indexedDB: new IDBFactory() }));
    const identity = await a.setup(await enrollLink('li-mei', 'cadre', VILLAGE));
    assert.equal(identity.person, 'li-mei');
    assert.equal(identity.personName, '李梅');
    assert.equal(identity.write, true);
    assert.equal(identity.scope, VILLAGE);

    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await a.createDispute(dispute(`纠纷 ${i}`, ['张三', `李四${i}`])));
    const visit = await a.createVisit({ household: '王家', topics: ['land'], sentiment: 'neutral', notes: '一切正常', followUp: { needed: true, dueAt: Date.now() + 86_400_000 } });
    assert.equal((await a.list({ sync: 'unsent' })).length, 6);

    const first = await a.syncNow();
    assert.equal(first.acknowledged, 6, JSON.stringify(first));
    assert.deepEqual(sent.at(-1), { encoding: 'gzip', status: 200 }, 'the server takes a gzipped body');
    assert.equal(first.rejected, 0, JSON.stringify(await a.list({ sync: 'attention' })));
    assert.deepEqual((await a.list()).map((r) => r.sync), Array(6).fill('synced'));

    const b = await phone();
    const { text } = await enrollJson('wang-qiang', 'cadre', VILLAGE);
    await b.setup(text);
    const boot = await b.syncNow();
    assert.equal(boot.received, 6, JSON.stringify(boot));
    const listed = await b.list({ search: '李四3' });
    assert.deepEqual(listed.map((r) => r.id), [ids[3]]);
    assert.equal((await b.list({ kind: 'visit' }))[0].id, visit);

    // Both phones edit the same case offline, then sync.
    await a.setRisk(ids[2], 'high');
    await a.addEvent(ids[2], { kind: 'mediation' });
    await b.setRisk(ids[2], 'low');
    await b.addEvent(ids[2], { kind: 'mediation', note: '第二次调解' });
    const up = await a.syncNow();
    assert.equal(up.acknowledged, 1);
    const merged = await b.syncNow();
    assert.equal(merged.merged, 1, JSON.stringify(merged));
    await a.syncNow();
    for (const p of [a, b]) {
      const got = await p.get(ids[2]);
      assert.equal(got.summary.eventCount, 3, 'both events and the report survive');
      assert.equal(got.summary.risk, 'high', 'phones disagreed on risk: the highest counts');
      assert.equal(got.sync, 'synced');
    }
    const news = (await b.get(ids[2])).news;
    assert.ok(news, 'b sees what a did');
    assert.ok(news.eventsAdded.some((e) => e.by === 'li-mei'), JSON.stringify(news));
    const heads = async (p) => A.getHeads((await p.get(ids[2])).doc).sort();
    assert.deepEqual(await heads(a), await heads(b));

    // An idle sync is one round trip of a few bytes.
    const idle = await b.syncNow();
    assert.equal(idle.rounds, 1);
    assert.ok(idle.bytesUp + idle.bytesDown < 512, JSON.stringify(idle));

    // Names come from the server.
    await b.refreshPeople();
    const people = await b.people();
    assert.equal(people.get('li-mei'), '李梅');
    // And so do the names of places, shown instead of codes.
    const places = await b.places();
    assert.equal(places.get('500110101001'), '第1村');
    assert.equal(places.get('500110101'), '第101镇');
    assert.equal(places.get('500110101002'), undefined, 'only the places of its own scope');
    a.close();
    b.close();
  });

  test('a bootstrap larger than the budget takes several rounds and reports progress', async () => {
    const writer = await phone();
    await writer.setup((await enrollJson('li-mei', 'cadre', OTHER_VILLAGE)).text);
    for (let i = 0; i < 40; i++) await writer.createDispute(dispute(`批量纠纷 ${i} ${'说明'.repeat(200)}`, ['甲', `乙${i}`]));
    await writer.syncNow();
    const reader = await FieldClient.open({ store: new MemoryStore(), records, baseUrl: null, autoSync: false, listenNetwork: false, sync: { responseBudget: 8 * 1024 } });
    await reader.setup((await enrollJson('wang-qiang', 'cadre', OTHER_VILLAGE)).text);
    const seen = [];
    reader.subscribe(() => {
      const p = reader.status.progress;
      if (p) seen.push(p);
    });
    const report = await reader.syncNow();
    assert.ok(report.rounds > 2, JSON.stringify(report));
    assert.equal((await reader.list()).length, 40);
    // The server counts what remains (`remaining`): done / (done + remaining).
    assert.ok(seen.length > 0, 'progress is shown during the bootstrap');
    assert.ok(seen.every((p) => p.total === 40), JSON.stringify(seen));
    const dones = seen.map((p) => p.done);
    assert.deepEqual(dones, [...dones].sort((x, y) => x - y), 'progress only grows');
    assert.equal(reader.status.progress, null, 'no progress once done');
    writer.close();
    reader.close();
  });

  test('a revoked phone signs out and keeps its unsent records exportable', async () => {
    const { text, device } = await enrollJson('li-mei', 'cadre', VILLAGE);
    const p = await phone();
    await p.setup(text);
    await p.syncNow();
    const before = (await p.list()).length;
    assert.ok(before > 0);
    const unsent = await p.createDispute(dispute('未发送的纠纷', ['钱七']));
    const r = await admin('POST', `/v1/admin/devices/${device}/revoke`);
    assert.equal(r.status, 200, await r.text());
    await assert.rejects(p.syncNow(), (e) => e.code === 'unauthorized');
    assert.deepEqual(p.status.signedOut, { reason: 'revoked', kept: 1 });
    assert.deepEqual((await p.list()).map((x) => x.id), [unsent]);
    const exported = await p.exportUnsent();
    assert.equal(exported.records.length, 1);
    const doc = A.load(Uint8Array.from(atob(exported.records[0].base64), (c) => c.charCodeAt(0)));
    assert.equal(String(doc.title), '未发送的纠纷');
    await p.signOutAndErase();
    assert.equal(p.identity, null);
    assert.equal((await p.list()).length, 0);
    p.close();
  });

  test('a phone moved to another village purges the old one', async () => {
    const { text, device } = await enrollJson('wang-qiang', 'cadre', VILLAGE);
    const p = await phone();
    await p.setup(text);
    await p.syncNow();
    const held = (await p.list()).length;
    assert.ok(held > 0);
    const r = await admin('PUT', `/v1/admin/devices/${device}/access`, { role: 'cadre', scope: '500110101003' });
    assert.equal(r.status, 200, await r.text());
    const report = await p.syncNow();
    assert.equal(report.purged, held, JSON.stringify(report));
    assert.equal((await p.list()).length, 0);
    // The phone knows where it now works: a new record is filed there, and
    // the server takes it.
    assert.equal(p.identity.scope, '500110101003');
    const id = await p.createDispute({
      title: '新村的纠纷',
      description: '',
      category: 'neighbor',
      risk: 'low',
      parties: [{ name: '赵六', role: 'applicant' }],
    });
    assert.equal((await p.get(id)).summary.village, '500110101003');
    const sent = await p.syncNow();
    assert.equal(sent.acknowledged, 1, JSON.stringify(sent));
    p.close();
  });
}
