// My records: search over title and party names, filters, sorted by last activity.

import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { useApp, useData } from '../app.jsx';
import { label, num, t, values } from '../i18n.js';
import { replace } from '../router.js';
import { Empty, TextInput } from '../ui.jsx';
import { RecordList } from './row.jsx';

const PAGE = 200;

function filtersOf(params) {
  return {
    q: params.get('q') ?? '',
    kind: params.get('kind') ?? '',
    status: params.get('status') ?? '',
    category: params.get('category') ?? '',
    risk: params.get('risk') ?? '',
    overdue: params.get('overdue') === '1',
    followup: params.get('followup') === '1',
  };
}

function Select({ vocab, value, onChange, testid, title, any }) {
  return (
    <select class="input filter" data-testid={testid} aria-label={title} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
      <option value="">{any}</option>
      {values(vocab).map((v) => (
        <option value={v} key={v}>
          {label(vocab, v)}
        </option>
      ))}
    </select>
  );
}

export function Records({ route }) {
  const { client } = useApp();
  const [f, setF] = useState(() => filtersOf(route.params));
  const [search, setSearch] = useState(f.q);
  const [limit, setLimit] = useState(PAGE);
  const timer = useRef(0);
  const opened = useRef(route);

  // Back, Forward, a link or an edited address bar brings a new query in
  // the hash (#/records?q=…): apply it. (Filters changed here replace the
  // address without a hashchange, so they do not come back this way.)
  useEffect(() => {
    if (route === opened.current) return;
    opened.current = route;
    const next = filtersOf(route.params);
    clearTimeout(timer.current);
    setSearch(next.q);
    setF(next);
  }, [route]);

  // The search box settles 200 ms after typing stops.
  useEffect(() => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setF((old) => (old.q === search ? old : { ...old, q: search })), 200);
    return () => clearTimeout(timer.current);
  }, [search]);

  // The address follows the filters in the same task as the render (a
  // layout effect): a deferred write could land after a newer hash brought
  // by Back or a link, and put the old query back.
  useLayoutEffect(() => {
    replace('/records', f);
    setLimit(PAGE);
  }, [f.q, f.kind, f.status, f.category, f.risk, f.overdue, f.followup]);

  const { data, error } = useData(
    () =>
      client.list({
        search: f.q || undefined,
        kind: f.kind || undefined,
        status: f.status || undefined,
        category: f.category || undefined,
        risk: f.risk || undefined,
        overdue: f.overdue || undefined,
        needsFollowUp: f.followup || undefined,
      }),
    [f.q, f.kind, f.status, f.category, f.risk, f.overdue, f.followup],
  );
  const set = (key) => (value) => setF((old) => ({ ...old, [key]: value }));
  const filtered = !!(f.q || f.kind || f.status || f.category || f.risk || f.overdue || f.followup);
  const items = data ?? [];

  return (
    <section class="screen" data-testid="records">
      <h1>{t('recordsTitle')}</h1>
      <div class="search">
        <TextInput
          type="search"
          testid="search"
          value={search}
          onChange={setSearch}
          placeholder={t('search')}
          aria-label={t('search')}
          enterKeyHint="search"
        />
      </div>
      <div class="filters" data-testid="filters">
        <Select vocab="recordKind" title={t('kind')} any={t('anyKind')} value={f.kind} onChange={set('kind')} testid="filter-kind" />
        <Select vocab="status" title={t('status')} any={t('anyStatus')} value={f.status} onChange={set('status')} testid="filter-status" />
        <Select vocab="category" title={t('category')} any={t('anyCategory')} value={f.category} onChange={set('category')} testid="filter-category" />
        <Select vocab="risk" title={t('risk')} any={t('anyRisk')} value={f.risk} onChange={set('risk')} testid="filter-risk" />
        <label class="check">
          <input type="checkbox" data-testid="filter-overdue" checked={f.overdue} onChange={(e) => set('overdue')(e.currentTarget.checked)} />
          <span>{t('overdueOnly')}</span>
        </label>
        <label class="check">
          <input type="checkbox" data-testid="filter-followup" checked={f.followup} onChange={(e) => set('followup')(e.currentTarget.checked)} />
          <span>{t('followUpOnly')}</span>
        </label>
      </div>
      {filtered && (
        <button
          type="button"
          class="button small"
          data-testid="clear-filters"
          onClick={() => {
            setSearch('');
            setF(filtersOf(new URLSearchParams()));
          }}
        >
          {t('clearFilters')}
        </button>
      )}
      {error && !data && (
        <p class="form-error" role="alert" data-testid="load-error">
          {t('loadFailed', { message: error?.message ?? String(error) })}
        </p>
      )}
      {data && (
        <p class="count-line" data-testid="record-count" data-count={items.length}>
          {t('count', { n: num(items.length) })}
        </p>
      )}
      {data && items.length === 0 ? (
        <Empty testid="no-records">{filtered ? t('noRecords') : t('noRecordsYet')}</Empty>
      ) : (
        <RecordList items={items} limit={limit} testid="record-list" />
      )}
      {items.length > limit && (
        <button type="button" class="button block" data-testid="show-more" onClick={() => setLimit(limit + PAGE)}>
          {t('showMore', { n: num(items.length - limit) })}
        </button>
      )}
    </section>
  );
}
