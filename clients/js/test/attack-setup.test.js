// Set-up text as people really paste it, and set-up codes that try to send
// the token elsewhere.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { init } from '../src/automerge.js';
import { FieldClient, SetupError, parseSetup } from '../src/client.js';
import { MemoryStore } from '../src/store/memory.js';
import * as records from './client-fake-records.js';

const DEVICE = '052eba9a-562f-47e2-ad8c-91def352b890';
const SETUP = { server: 'http://127.0.0.1:8591', token: 'fq_8RaFRbcRgW4oHSwN9PUhbZVvR5J81wrcts8qCeMD4kwd', device: DEVICE };
const CODE = Buffer.from(JSON.stringify(SETUP)).toString('base64url');
const LINK = `http://127.0.0.1:8591/field#setup=${CODE}`;

before(() => init());

test('a set-up code pasted wrapped over lines, with spaces, invisible characters or words after it still reads', () => {
  for (const pasted of [
    `${LINK.slice(0, 60)}\n${LINK.slice(60)}`,
    `${LINK.slice(0, 50)}\r\n${LINK.slice(50, 90)}\r\n${LINK.slice(90)}\r\n`,
    `  ${CODE.slice(0, 30)} ${CODE.slice(30)}\t`,
    `${CODE.slice(0, 10)}\u200b${CODE.slice(10)}\ufeff`,
    `${LINK} 请在手机上打开`,
    `链接：${LINK}\n（有效期七天）`,
  ]) {
    assert.deepEqual(parseSetup(pasted), SETUP, JSON.stringify(pasted));
  }
});

test('a set-up code whose token cannot be a token is refused as damaged, not sent', () => {
  for (const token of ['fq_a bc', 'fq_abc\nInjected: 1', 'fq_令牌']) {
    assert.throws(() => parseSetup(JSON.stringify({ ...SETUP, token })), (e) => e instanceof SetupError && e.code === 'bad_setup', token);
  }
});

test('the token goes only to the app’s own server, whatever the set-up code names', async () => {
  /** @type {string[]} */
  const urls = [];
  const client = await FieldClient.open({
    store: new MemoryStore(),
    records,
    baseUrl: 'http://127.0.0.1:8591',
    fetch: async (/** @type {string} */ url) => {
      urls.push(url);
      return Response.json({ device: DEVICE, person: 'p', role: 'cadre', scope: '330681107201', write: true });
    },
    autoSync: false,
    listenNetwork: false,
    broadcast: false,
  });
  await client.setup(JSON.stringify({ ...SETUP, server: 'https://evil.example' }));
  await client.refreshPeople();
  assert.ok(urls.length >= 2);
  for (const url of urls) assert.ok(url.startsWith('http://127.0.0.1:8591/'), url);
  client.close();
});
