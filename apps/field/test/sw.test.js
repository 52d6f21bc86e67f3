// The built service worker, run in a sandbox with a fake `self` and cache
// storage: it precaches every file of its version, answers the app shell from
// the cache (navigations to /field too), never touches /v1/*, and drops the
// caches of other versions when it takes over.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const here = path.dirname(fileURLToPath(import.meta.url));
const built = path.resolve(here, '../../../server/assets/field');
const assets = JSON.parse(readFileSync(path.join(built, 'assets.json'), 'utf8'));
const source = readFileSync(path.join(built, 'sw.js'), 'utf8');

function worker({ existing = [] } = {}) {
  const listeners = {};
  const caches = new Map(existing.map((name) => [name, new Map()]));
  const fetched = [];
  let skipped = false;
  let claimed = false;
  const cacheApi = {
    async open(name) {
      if (!caches.has(name)) caches.set(name, new Map());
      const store = caches.get(name);
      return {
        async addAll(requests) {
          for (const r of requests) {
            fetched.push({ url: r.url, cache: r.cache });
            store.set(new URL(r.url).pathname, `body of ${new URL(r.url).pathname}`);
          }
        },
        async match(key) {
          const pathname = typeof key === 'string' ? key : new URL(key.url).pathname;
          return store.get(pathname);
        },
      };
    },
    async keys() {
      return [...caches.keys()];
    },
    async delete(name) {
      return caches.delete(name);
    },
  };
  class FakeRequest {
    constructor(url, init = {}) {
      this.url = new URL(url, 'https://example.org').href;
      this.cache = init.cache;
      this.method = init.method ?? 'GET';
      this.mode = init.mode ?? 'cors';
    }
  }
  const self = {
    location: new URL('https://example.org/field/sw.js'),
    addEventListener: (type, fn) => {
      listeners[type] = fn;
    },
    skipWaiting: () => {
      skipped = true;
    },
    clients: {
      claim: async () => {
        claimed = true;
      },
    },
  };
  const network = async (request) => `network ${new URL(request.url).pathname}`;
  vm.runInNewContext(source, { self, caches: cacheApi, Request: FakeRequest, URL, fetch: network, Promise });

  async function dispatch(type, event) {
    let waited = null;
    let responded = null;
    listeners[type]({
      ...event,
      waitUntil: (p) => {
        waited = p;
      },
      respondWith: (p) => {
        responded = p;
      },
    });
    if (waited) await waited;
    return responded ? { handled: true, body: await responded } : { handled: false };
  }
  const request = (pathname, init) => new FakeRequest(`https://example.org${pathname}`, init);
  return { dispatch, request, caches, fetched, state: () => ({ skipped, claimed }) };
}

const cacheName = `fengqiao-field-${assets.version}`;

test('install precaches every file of the version past the HTTP cache, and waits', async () => {
  const w = worker();
  await w.dispatch('install', {});
  const files = assets.files.filter((f) => f !== 'sw.js');
  assert.deepEqual(w.fetched.map((f) => f.url).sort(), files.map((f) => `https://example.org/field/${f}`).sort());
  assert.ok(w.fetched.every((f) => f.cache === 'reload'));
  assert.deepEqual([...w.caches.keys()], [cacheName]);
  assert.equal(w.state().skipped, false, 'a new version waits for the app to offer a reload');
});

test('the app shell and navigations to /field come from the cache; /v1 and other paths are left alone', async () => {
  const w = worker();
  await w.dispatch('install', {});
  for (const pathname of ['/field', '/field/', '/field/index.html']) {
    const answer = await w.dispatch('fetch', { request: w.request(pathname, { mode: 'navigate' }) });
    assert.deepEqual(answer, { handled: true, body: 'body of /field/index.html' }, pathname);
  }
  assert.deepEqual(await w.dispatch('fetch', { request: w.request('/field/app.js') }), { handled: true, body: 'body of /field/app.js' });
  assert.deepEqual(await w.dispatch('fetch', { request: w.request('/field/automerge.wasm') }), { handled: true, body: 'body of /field/automerge.wasm' });
  for (const pathname of ['/v1/sync', '/v1/me', '/v1/people', '/dashboard', '/field/unknown.js']) {
    assert.deepEqual(await w.dispatch('fetch', { request: w.request(pathname) }), { handled: false }, pathname);
  }
  assert.deepEqual(await w.dispatch('fetch', { request: w.request('/v1/sync', { method: 'POST' }) }), { handled: false });
});

test('activation drops the caches of other versions, keeps others\u2019 caches, and takes over', async () => {
  const w = worker({ existing: ['fengqiao-field-0000000000000000', 'fengqiao-field-1111111111111111', 'someone-else'] });
  await w.dispatch('install', {});
  await w.dispatch('activate', {});
  assert.deepEqual([...w.caches.keys()].sort(), [cacheName, 'someone-else'].sort());
  assert.equal(w.state().claimed, true);
});

test('the page can ask for the version and to take over', async () => {
  const w = worker();
  let answered = null;
  await w.dispatch('message', { data: { type: 'version' }, ports: [{ postMessage: (v) => (answered = v) }] });
  assert.equal(answered, assets.version);
  await w.dispatch('message', { data: { type: 'skipWaiting' }, ports: [] });
  assert.equal(w.state().skipped, true);
});
