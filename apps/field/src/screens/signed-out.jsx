// Shown when the administrator revoked this phone: unsent records were kept
// and can be exported before the phone is erased and set up again.

import { useState } from 'preact/hooks';
import { useApp } from '../app.jsx';
import { num, t } from '../i18n.js';
import { clearAllDrafts } from '../drafts.js';
import { downloadUnsent } from './export.js';

export function SignedOut({ setupWaiting }) {
  const { client, switchLang } = useApp();
  const kept = client.status.signedOut?.kept ?? 0;
  const [message, setMessage] = useState('');
  const [confirming, setConfirming] = useState(false);
  return (
    <section class="screen" data-testid="signed-out">
      <div class="setup-head">
        <h1>{t('signedOutTitle')}</h1>
        <button type="button" class="button small" data-testid="lang-switch" onClick={switchLang}>
          {t('switchLang')}
        </button>
      </div>
      <p class="notice big" role="alert" data-testid="signed-out-notice" data-kept={kept}>
        {kept ? t('signedOutKept', { n: num(kept) }) : t('signedOutNone')}
      </p>
      {setupWaiting && (
        <p class="notice" role="status" data-testid="setup-waiting">
          {t('setupWaiting')}
        </p>
      )}
      {kept > 0 && (
        <>
          <button
            type="button"
            class="button primary block"
            data-testid="export-unsent"
            onClick={() =>
              downloadUnsent(client).then(
                (n) => setMessage(n ? t('exported', { n: num(n) }) : t('exportNothing')),
                (e) => setMessage(t('exportFailed', { message: e?.message ?? String(e) })),
              )
            }
          >
            {t('exportUnsent')}
          </button>
          {message && (
            <p class="hint" role="status" data-testid="export-result">
              {message}
            </p>
          )}
          <p class="hint">{t('signedOutNext')}</p>
        </>
      )}
      {confirming ? (
        <div class="confirm" data-testid="sign-out-confirm-box">
          <p>{kept ? t('signOutWarn', { n: num(kept) }) : t('signOutWarnNone')}</p>
          <div class="actions">
            <button type="button" class="button" data-testid="sign-out-cancel" onClick={() => setConfirming(false)}>
              {t('cancel')}
            </button>
            <button type="button" class="button danger" data-testid="sign-out-confirm" onClick={() =>
                client.signOutAndErase().then(clearAllDrafts, (e) => setMessage(t('signOutFailed', { message: e?.message ?? String(e) })))
              }>
              {t('signOutConfirm')}
            </button>
          </div>
        </div>
      ) : (
        <button type="button" class="button block danger-outline" data-testid="sign-out" onClick={() => setConfirming(true)}>
          {t('eraseAndSetup')}
        </button>
      )}
    </section>
  );
}
