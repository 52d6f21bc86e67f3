// Settings: language, this phone, export of unsent records, sign out and erase.

import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../app.jsx';
import { getLang, has, num, t } from '../i18n.js';
import { go } from '../router.js';
import { shellVersion } from '../update.js';
import { clearAllDrafts } from '../drafts.js';
import { downloadUnsent } from './export.js';

export function Settings() {
  const { client, identity, switchLang, places } = useApp();
  const [version, setVersion] = useState(/** @type {string|null} */ (null));
  const [storage, setStorage] = useState(/** @type {string|null} */ (null));
  const [message, setMessage] = useState('');
  const [confirm, setConfirm] = useState(/** @type {null|number} */ (null));
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    shellVersion().then(setVersion, () => {});
    (async () => {
      const persisted = await navigator.storage?.persisted?.();
      const estimate = await navigator.storage?.estimate?.();
      const mb = estimate?.usage != null ? (estimate.usage / 1048576).toFixed(1) : null;
      const kind = persisted ? t('storageKept') : t('storageMayClear');
      setStorage(mb != null ? t('storageLine', { kind, mb }) : kind);
    })().catch(() => {});
  }, [getLang()]);

  const askSignOut = async () => {
    const rows = await client.list({}).catch(() => []);
    setConfirm(rows.filter((r) => r.sync !== 'synced').length);
  };

  const signOut = async () => {
    setBusy(true);
    try {
      await client.signOutAndErase();
      clearAllDrafts();
      go('/today');
    } catch (e) {
      setMessage(t('signOutFailed', { message: e?.message ?? String(e) }));
    } finally {
      setBusy(false);
      setConfirm(null);
    }
  };

  const role = identity?.role ? (has(`role_${identity.role}`) ? t(`role_${identity.role}`) : identity.role) : '';
  const rows = [
    [t('person'), identity?.personName, 'device-person'],
    [t('deviceLabel'), identity?.label, 'device-label'],
    [t('role'), role, 'device-role'],
    [t('place'), places?.get?.(identity?.scope ?? '') ?? null, 'device-place'],
    [t('scope'), identity?.scope, 'device-scope'],
    [t('writePermission'), identity?.write === false ? t('readOnlyShort') : t('canWrite'), 'device-write'],
    [t('deviceId'), identity?.device, 'device-id'],
    [t('server'), identity?.server ?? location.origin, 'device-server'],
    [t('appVersion'), version, 'app-version'],
    [t('storage'), storage, 'device-storage'],
  ];

  return (
    <section class="screen" data-testid="settings">
      <h1>{t('settingsTitle')}</h1>
      <section class="card">
        <h2>{t('language')}</h2>
        <button type="button" class="button block" data-testid="lang-switch" onClick={switchLang}>
          {t('switchLang')}
        </button>
      </section>
      <section class="card" data-testid="device-info">
        <h2>{t('device')}</h2>
        <dl class="facts">
          {rows
            .filter(([, v]) => v)
            .map(([k, v, testid]) => (
              <div class="fact" key={testid}>
                <dt>{k}</dt>
                <dd data-testid={testid} class={testid === 'device-id' || testid === 'app-version' ? 'mono' : undefined}>
                  {v}
                </dd>
              </div>
            ))}
        </dl>
      </section>
      <section class="card">
        <h2>{t('exportUnsent')}</h2>
        <p class="hint">{t('exportHint')}</p>
        <button
          type="button"
          class="button block"
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
      </section>
      <section class="card">
        <h2>{t('signOut')}</h2>
        {confirm === null ? (
          <button type="button" class="button block danger-outline" data-testid="sign-out" onClick={askSignOut}>
            {t('signOut')}
          </button>
        ) : (
          <div class="confirm" data-testid="sign-out-confirm-box" data-unsent={confirm}>
            <p role="alert">{confirm ? t('signOutWarn', { n: num(confirm) }) : t('signOutWarnNone')}</p>
            <div class="actions">
              <button type="button" class="button" data-testid="sign-out-cancel" onClick={() => setConfirm(null)}>
                {t('cancel')}
              </button>
              <button type="button" class="button danger" data-testid="sign-out-confirm" disabled={busy} onClick={signOut}>
                {t('signOutConfirm')}
              </button>
            </div>
          </div>
        )}
      </section>
    </section>
  );
}
