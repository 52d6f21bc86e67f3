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
if (location.hash.startsWith('#setup=')) {
  setupText = location.hash.slice('#setup='.length);
  history.replaceState(null, '', '/field');
}

/** The set-up text of the link this page was opened with, once. */
function takeSetupText() {
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
