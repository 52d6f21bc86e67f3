// The app shell: the sync bar, the screens by hash route, the bottom
// navigation, and the offers that sit above them (new version, set-up link
// not used).

import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { errorText, personName } from './describe.js';
import { getLang, num, setLang, t, when } from './i18n.js';
import { useRoute } from './router.js';
import { DisputeForm } from './screens/dispute-form.jsx';
import { RecordPage } from './screens/record.jsx';
import { Records } from './screens/records.jsx';
import { Settings } from './screens/settings.jsx';
import { Setup } from './screens/setup.jsx';
import { SignedOut } from './screens/signed-out.jsx';
import { Today } from './screens/today.jsx';
import { VisitForm } from './screens/visit-form.jsx';
import { applyUpdate, onUpdate } from './update.js';

/** @type {import('preact').Context<any>} */
const Ctx = createContext(null);

/** client, identity, people, nameOf, tick, lang, switchLang */
export function useApp() {
  return useContext(Ctx);
}

/**
 * Runs `load` now and again whenever the library reports a change (or `deps`
 * change); keeps the last good data while reloading.
 * @template T
 * @param {() => Promise<T>} load
 * @param {any[]} deps
 * @returns {{data: T|undefined, error: any, loading: boolean}}
 */
export function useData(load, deps) {
  const { tick } = useApp();
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const last = useRef(0);
  useEffect(() => {
    const run = ++last.current;
    Promise.resolve()
      .then(load)
      .then(
        (data) => run === last.current && setState({ data, error: null, loading: false }),
        (error) => run === last.current && setState((s) => ({ data: s.data, error, loading: false })),
      );
  }, [tick, ...deps]);
  return state;
}

export function App({ client, takeSetupText }) {
  const [setupText] = useState(() => takeSetupText((text) => laterSetup.current?.(text)));
  const laterSetup = useRef(/** @type {((text: string) => void) | null} */ (null));
  const [tick, setTick] = useState(0);
  const [lang, setLangState] = useState(getLang());
  const [people, setPeople] = useState(/** @type {Map<string,string>|null} */ (null));
  const [places, setPlaces] = useState(/** @type {Map<string,string>|null} */ (null));
  const [setupNotice, setSetupNotice] = useState(false);
  const [peopleVersion, setPeopleVersion] = useState(0);
  const route = useRoute();

  useEffect(() => {
    let pending = false;
    // Coalesce bursts of changes (a bootstrap reports every response) into one render per frame.
    return client.subscribe((event) => {
      if (event?.type === 'people' || event?.type === 'places' || event?.type === 'identity') setPeopleVersion((n) => n + 1);
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        setTick((n) => n + 1);
      });
    });
  }, [client]);

  const identity = client.identity;
  const status = client.status;

  // A new screen starts at its top.
  useEffect(() => {
    window.scrollTo(0, 0);
  }, [route.path]);

  useEffect(() => {
    if (!identity) return;
    client.people().then(setPeople, () => {});
    client.places?.().then(setPlaces, () => {});
  }, [client, identity?.device, status.lastSync, peopleVersion]);

  // A set-up link opened on a phone that already holds a device is not used.
  // On a phone the administrator signed out it waits until the cadre has
  // exported and erased, then sets the phone up.
  useEffect(() => {
    if (setupText && client.identity && !client.status.signedOut) setSetupNotice(true);
  }, []);
  const [pendingSetup, setPendingSetup] = useState(() => (client.identity && !client.status.signedOut ? null : setupText));
  laterSetup.current = (text) => {
    if (client.identity && !client.status.signedOut) setSetupNotice(true);
    else setPendingSetup(text);
  };

  const switchLang = useCallback(() => {
    const next = getLang() === 'zh' ? 'en' : 'zh';
    setLang(next);
    setLangState(next);
  }, []);

  const nameOf = useCallback(
    (id) => personName(people, id, identity?.person, identity?.personName),
    [people, identity?.person, identity?.personName],
  );

  /** A place's name with its code ("枫源村 330681107201"), or the code alone when no name is known. */
  const placeOf = useCallback(
    (code) => {
      if (!code) return '';
      const name = places?.get?.(code);
      return name ? t('placeWithCode', { name, code }) : code;
    },
    [places],
  );

  const ctx = useMemo(
    () => ({ client, identity, people, places, nameOf, placeOf, tick, lang, switchLang }),
    [client, identity, people, places, nameOf, placeOf, tick, lang, switchLang],
  );

  let screen;
  if (status.signedOut) {
    screen = <SignedOut setupWaiting={!!pendingSetup} />;
  } else if (!identity) {
    screen = <Setup initialText={pendingSetup} onConsumed={() => setPendingSetup(null)} />;
  } else {
    screen = <Screen route={route} />;
  }

  return (
    <Ctx.Provider value={ctx}>
      <div class={`shell lang-${lang}`}>
        <UpdateBanner />
        {identity && !status.signedOut && <SyncBar status={status} />}
        {setupNotice && (
          <div class="notice" role="status" data-testid="setup-already">
            <span>{t('setupAlready')}</span>
            <button type="button" class="button small" onClick={() => setSetupNotice(false)}>
              {t('newsDismiss')}
            </button>
          </div>
        )}
        <main class="main" data-testid="main">
          {screen}
        </main>
        {identity && !status.signedOut && <Nav route={route} />}
      </div>
    </Ctx.Provider>
  );
}

function Screen({ route }) {
  const [first, second] = route.parts;
  if (first === 'records') return <Records route={route} />;
  if (first === 'record' && second) return <RecordPage id={second} key={second} />;
  if (first === 'new' && second === 'dispute') return <DisputeForm key="dispute" />;
  if (first === 'new' && second === 'visit') return <VisitForm key="visit" />;
  if (first === 'settings') return <Settings />;
  return <Today />;
}

function SyncBar({ status }) {
  const { client } = useApp();
  const progress = status.progress;
  const { data: unsent } = useData(
    () => client.list({ sync: 'unsent' }).then((rows) => rows.filter((r) => r.sync === 'unsent').length),
    [],
  );
  return (
    <header class="syncbar" data-testid="sync-bar">
      <div class="syncbar-line">
        <span
          class={`net ${status.online ? 'net-on' : 'net-off'}`}
          data-testid="sync-state"
          data-online={status.online ? 'true' : 'false'}
          data-syncing={status.syncing ? 'true' : 'false'}
        >
          {status.online ? t('online') : t('offline')}
        </span>
        <span class="last-sync" data-testid="last-sync" data-last-sync={status.lastSync ?? ""}>
          {status.syncing ? t('syncing') : status.lastSync ? t('lastSync', { time: when(status.lastSync) }) : t('neverSynced')}
        </span>
        {unsent > 0 && (
          <span class="unsent" data-testid="unsent-count" data-count={unsent}>
            {t('unsentCount', { n: num(unsent) })}
          </span>
        )}
        <button
          type="button"
          class="button small sync-now"
          data-testid="sync-now"
          disabled={status.syncing}
          onClick={() => client.syncNow().catch(() => {})}
        >
          {t('syncNow')}
        </button>
      </div>
      {progress && progress.total > 0 && (
        <div class="progress" data-testid="progress" data-done={progress.done} data-total={progress.total}>
          <progress max={progress.total} value={progress.done} />
          <span>{t('syncProgress', { done: num(progress.done), total: num(progress.total) })}</span>
        </div>
      )}
      {status.error && !status.syncing && (
        <p class="sync-error" data-testid="sync-error" data-code={status.error.code}>
          {t('syncErr', { reason: errorText(status.error) })}
        </p>
      )}
    </header>
  );
}

function Nav({ route }) {
  const { identity } = useApp();
  const [first, second] = route.parts;
  const here = first === 'new' ? `new-${second}` : first === 'record' ? 'records' : first || 'today';
  const item = (key, hash, text, testid, aria) => (
    <a
      href={hash}
      class={`nav-item${here === key ? ' active' : ''}`}
      data-testid={testid}
      aria-label={aria}
      aria-current={here === key ? 'page' : undefined}
    >
      {text}
    </a>
  );
  const canWrite = identity?.write !== false;
  return (
    <nav class={`nav${canWrite ? '' : ' nav-3'}`} data-testid="nav">
      {item('today', '#/today', t('navToday'), 'nav-today')}
      {item('records', '#/records', t('navRecords'), 'nav-records')}
      {canWrite && item('new-dispute', '#/new/dispute', t('navNewDispute'), 'new-dispute', t('newDisputeTitle'))}
      {canWrite && item('new-visit', '#/new/visit', t('navNewVisit'), 'new-visit', t('newVisitTitle'))}
      {item('settings', '#/settings', t('navSettings'), 'nav-settings')}
    </nav>
  );
}

function UpdateBanner() {
  const [worker, setWorker] = useState(null);
  useEffect(() => onUpdate(setWorker), []);
  if (!worker) return null;
  return (
    <div class="update" role="status" data-testid="update-banner">
      <span>{t('updateReady')}</span>
      <button type="button" class="button small primary" data-testid="update-reload" onClick={applyUpdate}>
        {t('reload')}
      </button>
    </div>
  );
}
