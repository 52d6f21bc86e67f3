// Boots the field app. The set-up link is handled before anything else: its
// token leaves the address bar and the history at once, before the WASM or
// the store load, so nothing later (a crash, a screenshot) can show it.

import { render } from 'preact';
import { App } from './app.jsx';
import { getLang, setLang, t } from './i18n.js';
import { FieldClient, init, openIdbStore } from './lib.js';
import { registerServiceWorker } from './update.js';

/** @type {string|null} */
let setupText = null;
/** @type {((text: string) => void) | null} */
let setupListener = null;

/** Takes a `#setup=` hash out of the address bar and the history. */
function consumeSetupHash() {
  if (!location.hash.startsWith('#setup=')) return null;
  const text = location.hash.slice('#setup='.length);
  history.replaceState(null, '', '/field');
  return text;
}

setupText = consumeSetupHash();
// A set-up link opened while the app is open arrives as a hash change. This
// listener is added before any other, so the router never sees the token.
addEventListener('hashchange', () => {
  const text = consumeSetupHash();
  if (!text) return;
  if (setupListener) setupListener(text);
  else setupText = text;
});

/** The set-up text of the link this page was opened with, once; later links go to `listener`. */
function takeSetupText(listener) {
  setupListener = listener;
  const text = setupText;
  setupText = null;
  return text;
}

setLang(getLang());

const root = document.getElementById('app');

function BootFailed({ error }) {
  return (
    <main class="boot-failed" data-testid="boot-failed">
      <h1>{t('appName')}</h1>
      <p role="alert">{t('bootFailed', { message: error?.message ?? String(error) })}</p>
      <button type="button" class="button primary" data-testid="boot-retry" onClick={() => location.reload()}>
        {t('retry')}
      </button>
    </main>
  );
}

async function boot() {
  try {
    await init('/field/automerge.wasm');
    const store = await openIdbStore();
    const client = await FieldClient.open({ store });
    // Ask the browser not to evict the records under storage pressure
    // (granted silently to installed or often-used apps; harmless if refused).
    navigator.storage?.persist?.().catch(() => {});
    root.textContent = '';
    render(<App client={client} takeSetupText={takeSetupText} />, root);
  } catch (error) {
    console.error(error);
    root.textContent = '';
    render(<BootFailed error={error} />, root);
  }
}

boot();
registerServiceWorker();
