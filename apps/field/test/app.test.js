// The field app's own checks: every string in both languages, the sentences
// made from merge news, server refusals and validation errors, hash routes,
// and a build that is deterministic and never carries the development mock.
//
//   node --test apps/field/test/

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { attentionText, errorText, newsLines, personName, plain, saveErrorText, validationText } from '../src/describe.js';
import { label, setLang, t, TABLE, values } from '../src/i18n.js';
import { href, parseHash } from '../src/router.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const app = path.resolve(here, '..');
const root = path.resolve(app, '../..');

// i18n.setLang touches <html lang>; give it one.
globalThis.document = /** @type {any} */ ({ documentElement: { lang: '' }, title: '' });

function inLang(lang, fn) {
  setLang(lang);
  try {
    return fn();
  } finally {
    setLang('zh');
  }
}

test('every string has Chinese and English, with the same placeholders', () => {
  const placeholders = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
  for (const [key, entry] of Object.entries(TABLE)) {
    assert.equal(entry.length, 2, key);
    const [zh, en] = entry;
    assert.ok(zh.trim() || key === 'dot', `${key}: Chinese missing`);
    assert.ok(en.trim() || key === 'dot', `${key}: English missing`);
    assert.deepEqual(placeholders(zh), placeholders(en), `${key}: placeholders differ`);
  }
});

test('English counts agree with their number', () => {
  assert.equal(inLang('en', () => t('count', { n: 1 })), '1 record');
  assert.equal(inLang('en', () => t('count', { n: '1,204' })), '1,204 records');
  assert.equal(inLang('en', () => t('signedOutKept', { n: 3 })), 'This phone was signed out by the administrator; 3 unsent records were kept and can be exported.');
  assert.equal(t('signedOutKept', { n: 3 }), '这台手机已被管理员注销；3 条未发送的记录已保留，可以导出。');
});

test('vocabulary labels come from the shared schema in both languages', () => {
  assert.ok(values('risk').includes('high'));
  assert.equal(label('category', 'neighbor'), '邻里纠纷');
  assert.equal(inLang('en', () => label('risk', 'high')), 'High');
  assert.equal(label('risk', 'severe'), 'severe', 'an unknown value shows as itself');
  for (const name of ['recordKind', 'category', 'risk', 'sentiment', 'partyRole', 'eventKind', 'level', 'topic', 'status']) {
    for (const v of values(name)) {
      assert.notEqual(label(name, v), v, `${name}.${v} has a Chinese label`);
      assert.ok(inLang('en', () => label(name, v)), `${name}.${v} has an English label`);
    }
  }
});

const people = new Map([['p-limei', '李梅']]);
const nameOf = (id) => personName(people, id, 'p-me', '王建国');

test('merge news reads as the issue puts it, in both languages', () => {
  const news = {
    eventsAdded: [
      { by: 'p-limei', kind: 'escalated', at: 2, level: 'town' },
      { by: 'p-limei', kind: 'note', at: 3 },
    ],
    statusBefore: 'mediating',
    statusAfter: 'escalated',
    riskBefore: 'medium',
    riskAfter: 'high',
    riskConflict: ['medium', 'high'],
    sentimentConflict: null,
  };
  const zh = newsLines(news, nameOf).map((l) => l.text);
  assert.deepEqual(zh, ['镇里已上报该案件', '李梅添加了 2 条记录', '多台手机对风险等级意见不一，按最高计']);
  const en = inLang('en', () => newsLines(news, nameOf).map((l) => l.text));
  assert.deepEqual(en, ['The case was escalated to the town', '2 events added by 李梅', 'Phones disagreed on risk; the highest counts']);
});

test('merge news of the closed loop: stage, assignment, supervision', () => {
  const news = {
    eventsAdded: [
      { by: 'p-limei', kind: 'assigned', at: 1, assignee: 'p-me' },
      { by: 'p-limei', kind: 'supervised', at: 2, due: Date.UTC(2026, 11, 20, 4) },
    ],
    statusBefore: 'open',
    statusAfter: 'open',
    stageBefore: 'accepted',
    stageAfter: 'handling',
    riskConflict: null,
  };
  const zh = newsLines(news, nameOf).map((l) => l.text);
  assert.deepEqual(zh.slice(0, 3), ['办理阶段变为“调处中”（原为“已受理/待分派”）', '李梅已分派给王建国承办', `李梅已督办，期限 ${zh[2].split('期限 ')[1]}`]);
  assert.match(zh[2], /2026/);
  assert.equal(zh.length, 3, 'assignment and supervision are not counted again');
  news.eventsAdded.push({ by: 'p-limei', kind: 'note', at: 3 });
  assert.equal(newsLines(news, nameOf).at(-1).text, '李梅添加了 1 条记录');
});

test('merge news: a status change, a risk change, an unknown phone, nothing', () => {
  const news = {
    eventsAdded: [{ by: 'p-unknown', kind: 'resolved', at: 1 }],
    statusBefore: 'open',
    statusAfter: 'resolved',
    riskBefore: 'low',
    riskAfter: 'medium',
    riskConflict: null,
  };
  assert.deepEqual(
    newsLines(news, nameOf).map((l) => l.text),
    ['状态变为“已化解”（原为“待调解”）', '其他设备添加了 1 条记录', '风险等级变为“中”（原为“低”）'],
  );
  assert.deepEqual(newsLines(null, nameOf), []);
  assert.equal(nameOf('p-me'), '王建国');
  assert.equal(inLang('en', () => nameOf('p-x')), 'another phone');
});

test('refusals, sync errors and validation errors in the cadre language', () => {
  assert.equal(attentionText({ code: 'invalid_record', message: 'x' }), '服务器认为记录不符合规范，没有接收。');
  assert.equal(attentionText({ code: 'never_heard_of_it' }), '服务器没有接收这条记录。');
  assert.equal(inLang('en', () => errorText({ code: 'network', message: 'fetch failed' })), 'No connection; it will retry when online.');
  assert.equal(validationText({ field: 'title', code: 'empty' }), '标题不能为空');
  assert.equal(validationText({ field: 'parties[1].name', code: 'empty' }), '当事人 2的姓名不能为空');
  assert.equal(inLang('en', () => validationText({ field: 'parties[1].name', code: 'empty' })), 'Party 2: Name must not be empty');
  assert.equal(
    saveErrorText({ errors: [{ field: 'title', code: 'too_long' }, { field: 'risk', code: 'unknown_value' }] }),
    '没有保存：标题超出长度上限；风险等级不是可选的值',
  );
  assert.equal(saveErrorText({ code: 'read_only', message: 'x' }), '没有保存：这台手机只能查看，不能修改');
  assert.equal(saveErrorText(new Error('disk full')), '没有保存：disk full');
});

test('hash routes', () => {
  assert.deepEqual(parseHash('').parts, ['today']);
  const r = parseHash('#/records?q=%E5%BC%A0&status=open&overdue=1');
  assert.deepEqual(r.parts, ['records']);
  assert.equal(r.params.get('q'), '张');
  assert.equal(r.params.get('overdue'), '1');
  assert.deepEqual(parseHash('#/record/2Y37KkcGHmXBjoTJ8f3Z7ayd8Z7N').parts, ['record', '2Y37KkcGHmXBjoTJ8f3Z7ayd8Z7N']);
  assert.equal(href('/records', { q: '张', kind: '', overdue: true, followup: false }), '#/records?q=%E5%BC%A0&overdue=1');
});

function build(args) {
  return execFileSync(process.execPath, [path.join(app, 'build.mjs'), ...args], { cwd: root, encoding: 'utf8' });
}

function snapshot(dir) {
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(path.join(dir, f))]));
}

test('the build is deterministic, versioned by content, and the committed copy is current', () => {
  const a = mkdtempSync(path.join(tmpdir(), 'field-a-'));
  const b = mkdtempSync(path.join(tmpdir(), 'field-b-'));
  try {
    build(['--out', a]);
    build(['--out', b]);
    const one = snapshot(a);
    const two = snapshot(b);
    assert.deepEqual(Object.keys(one), ['app.css', 'app.js', 'assets.json', 'automerge.wasm', 'icon.svg', 'index.html', 'manifest.webmanifest', 'sw.js']);
    for (const f of Object.keys(one)) assert.ok(one[f].equals(two[f]), `${f} differs between two builds`);

    const assets = JSON.parse(one['assets.json'].toString());
    assert.match(assets.version, /^[0-9a-f]{16}$/);
    assert.deepEqual(assets.files, Object.keys(one).filter((f) => f !== 'assets.json'));
    const sw = one['sw.js'].toString();
    assert.ok(sw.includes(`const VERSION = "${assets.version}"`));
    assert.ok(!sw.includes('__VERSION__') && !sw.includes('__FILES__'));
    assert.ok(sw.includes('"app.js"') && sw.includes('"automerge.wasm"'));

    const js = one['app.js'].toString();
    assert.ok(!js.includes('__fieldMock'), 'the development mock is not in the production bundle');
    const html = one['index.html'].toString();
    assert.ok(!/<script(?![^>]*\bsrc=)[^>]*>/.test(html), 'no inline script');
    assert.ok(!/\sstyle=/.test(html) && !/<style/.test(html), 'no inline style');

    const committed = snapshot(path.join(root, 'server/assets/field'));
    for (const f of Object.keys(one)) assert.ok(one[f].equals(committed[f]), `server/assets/field/${f} is stale: run node apps/field/build.mjs`);
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test('the sources set no inline styles (the CSP allows none)', () => {
  const files = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(dir, e.name));
      else if (/\.(jsx?|html)$/.test(e.name)) files.push(path.join(dir, e.name));
    }
  };
  walk(path.join(app, 'src'));
  assert.ok(files.length > 10);
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    assert.ok(!/\sstyle=|\.style\.|cssText|<style/.test(text), `${path.relative(app, f)} sets an inline style`);
  }
});

test('a mock build refuses to write into server/assets/field', () => {
  assert.throws(() => build(['--mock']), /never goes into server\/assets\/field/);
});

test('text from other phones is shown without bidirectional overrides', () => {
  assert.equal(plain('abc\u202Eevil\u202Cdef'), 'abcevildef');
  assert.equal(plain('\u2066张三\u2069与李四'), '张三与李四');
  assert.equal(plain('宅基地纠纷'), '宅基地纠纷');
  assert.equal(plain(null), '');
});
