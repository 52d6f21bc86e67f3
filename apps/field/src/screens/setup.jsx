// Set-up: from the #setup= link (consumed at boot) or pasted text.

import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../app.jsx';
import { has, t } from '../i18n.js';
import { go } from '../router.js';
import { TextInput } from '../ui.jsx';

function setupErrorText(error) {
  const key = `setupErr_${error?.code}`;
  return has(key) ? t(key) : t('setupErr_other', { message: error?.message ?? String(error) });
}

export function Setup({ initialText, onConsumed }) {
  const { client, switchLang } = useApp();
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(/** @type {any} */ (null));

  const run = async (value) => {
    if (!value.trim()) {
      setError({ code: 'empty' });
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await client.setup(value.trim());
      go('/today');
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    if (initialText) {
      onConsumed?.();
      run(initialText);
    }
  }, [initialText]);

  return (
    <section class="screen setup" data-testid="setup">
      <div class="brand">
        <img src="/field/icon.svg" alt="" class="logo" width="40" height="40" />
        <span>{t('appName')}</span>
      </div>
      <div class="setup-head">
        <h1>{t('setupTitle')}</h1>
        <button type="button" class="button small" data-testid="lang-switch" onClick={switchLang}>
          {t('switchLang')}
        </button>
      </div>
      <p class="lead">{t('setupIntro')}</p>
      <form
        class="card"
        onSubmit={(e) => {
          e.preventDefault();
          run(text);
        }}
      >
        <label class="field">
          <span class="field-label">{t('setupPasteLabel')}</span>
          <TextInput
            multiline
            rows={4}
            testid="setup-paste"
            value={text}
            onChange={setText}
            placeholder={t('setupPlaceholder')}
            autoComplete="off"
            autoCapitalize="off"
            spellCheck={false}
          />
        </label>
        {error && (
          <p class="form-error" role="alert" data-testid="setup-error" data-code={error.code ?? ''}>
            {error.code === 'empty' ? t('setupEmpty') : setupErrorText(error)}
          </p>
        )}
        <button type="submit" class="button primary block" data-testid="setup-submit" disabled={busy}>
          {busy ? t('setupWorking') : t('setupSubmit')}
        </button>
      </form>
    </section>
  );
}
