// One record: what the merge did, why it needs attention, its facts and
// timeline; add an event, change the risk, mark a visit's follow-up done.

import { useEffect, useRef, useState } from 'preact/hooks';
import { useApp, useData } from '../app.jsx';
import { attentionText, newsLines, plain, saveErrorText } from '../describe.js';
import { day, label, problem, t, values, when } from '../i18n.js';
import { go } from '../router.js';
import { dateToMillis } from './visit-form.jsx';
import { Chip, Empty, Field, SyncBadge, TextInput, VocabSelect } from '../ui.jsx';

const text = plain;

/** Topics may arrive as an array, a Set or a map of value → true. */
function topicList(topics) {
  if (!topics) return [];
  if (Array.isArray(topics)) return topics;
  if (topics instanceof Set) return [...topics];
  if (typeof topics === 'object') return Object.keys(topics).filter((k) => topics[k]);
  return [];
}

function assigneeList(assignees) {
  return topicList(assignees);
}

/** The stage, with the level when it awaits acceptance: 待受理（镇级）. */
function stageText(stage, level) {
  if (!stage) return null;
  return stage === 'pending' && level ? t('stageAtLevel', { stage: label('stage', stage), level: label('level', level) }) : label('stage', stage);
}

/** Timeline order: by time, then cadre, then list position (as every replica sorts). */
export function timeline(events) {
  return [...(events ?? [])]
    .map((e, i) => ({ e, i }))
    .sort((a, b) => {
      const at = Number(a.e.at) - Number(b.e.at);
      if (at) return at;
      const by = text(a.e.by) < text(b.e.by) ? -1 : text(a.e.by) > text(b.e.by) ? 1 : 0;
      if (by) return by;
      return (a.e.position ?? a.i) - (b.e.position ?? b.i);
    })
    .map(({ e }) => e);
}

function NewsBanner({ news, onDismiss }) {
  const { nameOf } = useApp();
  const lines = newsLines(news, nameOf);
  if (!lines.length) return null;
  const conflicts = lines.filter((l) => l.key.endsWith('Conflict'));
  const changes = lines.filter((l) => !l.key.endsWith('Conflict'));
  return (
    <section class="news" data-testid="news-banner" role="status">
      <h2>{t('newsTitle')}</h2>
      <div class="news-summary" data-testid="news-summary">
        {changes.length > 0 && <p class="news-changes">{changes.map((l) => l.text).join(t('dot'))}</p>}
        {conflicts.map((l) => (
          <p class="news-conflict" key={l.key} data-testid={l.key === 'riskConflict' ? 'news-risk-conflict' : 'news-sentiment-conflict'}>
            {l.text}
          </p>
        ))}
      </div>
      <button type="button" class="button small" data-testid="news-dismiss" onClick={onDismiss}>
        {t('newsDismiss')}
      </button>
    </section>
  );
}

function Attention({ id, attention, canWrite }) {
  const { client } = useApp();
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState('');
  if (!attention) return null;
  return (
    <section class="attention" data-testid="attention" data-code={attention.code ?? ''} role="alert">
      <h2>{t('attentionTitle')}</h2>
      <p data-testid="attention-reason">{attentionText(attention)}</p>
      {attention.message && <p class="server-msg">{t('serverSaid', { message: attention.message })}</p>}
      {canWrite && !confirming && (
        <div class="actions">
          <button type="button" class="button" data-testid="attention-retry" onClick={() => client.retry(id).catch((err) => setError(saveErrorText(err)))}>
            {t('retrySend')}
          </button>
          <button type="button" class="button danger-outline" data-testid="attention-discard" onClick={() => setConfirming(true)}>
            {t('discardLocal')}
          </button>
        </div>
      )}
      {confirming && (
        <div class="confirm" data-testid="attention-discard-box">
          <p>{t('discardWarn')}</p>
          <div class="actions">
            <button type="button" class="button" data-testid="attention-discard-cancel" onClick={() => setConfirming(false)}>
              {t('cancel')}
            </button>
            <button
              type="button"
              class="button danger"
              data-testid="attention-discard-confirm"
              onClick={() =>
                client.discardLocalChanges(id).then(
                  () => go('/records'),
                  (err) => setError(saveErrorText(err)),
                )
              }
            >
              {t('discardConfirm')}
            </button>
          </div>
        </div>
      )}
      {error && <p class="form-error">{error}</p>}
    </section>
  );
}

function Facts({ rows }) {
  return (
    <dl class="facts" data-testid="facts">
      {rows
        .filter(([, v]) => v !== null && v !== undefined && v !== '')
        .map(([k, v, testid]) => (
          <div class="fact" key={k}>
            <dt>{k}</dt>
            <dd data-testid={testid}>{v}</dd>
          </div>
        ))}
    </dl>
  );
}

function EventItem({ e }) {
  const { nameOf } = useApp();
  return (
    <li class={`event event-${e.kind}`} data-testid="timeline-event" data-kind={e.kind}>
      <div class="event-head">
        <span class="event-kind">{label('eventKind', e.kind)}</span>
        {e.level && <span class="chip">{label('level', e.level)}</span>}
        {e.satisfied === true && <span class="chip chip-ok">{t('satisfiedYes')}</span>}
        {e.satisfied === false && <span class="chip chip-warn">{t('satisfiedNo')}</span>}
      </div>
      {e.assignee && <p class="event-text">{t('eventAssignee', { who: nameOf(e.assignee) })}</p>}
      {e.due != null && <p class="event-text">{t('eventDue', { date: day(e.due) })}</p>}
      {e.outcome && (
        <p class="event-text">
          {t('outcome')}
          {t('colon')}
          {text(e.outcome)}
        </p>
      )}
      {e.note && <p class="event-text">{text(e.note)}</p>}
      <p class="event-meta">
        {nameOf(e.by)} · {when(e.at)}
      </p>
    </li>
  );
}

/** Events that end a stage of mediation and may say how it ended. */
const OUTCOME_KINDS = ['agreement', 'resolved', 'failed'];

const EVENT_KINDS = ['mediation', 'agreement', 'resolved', 'failed', 'escalated', 'followup', 'reopened', 'note'];

function AddEvent({ id }) {
  const { client } = useApp();
  const kinds = EVENT_KINDS.filter((k) => values('eventKind').includes(k));
  const [kind, setKind] = useState(kinds[0] ?? 'mediation');
  const [level, setLevel] = useState(/** @type {string|null} */ (null));
  const [satisfied, setSatisfied] = useState(/** @type {boolean|null} */ (null));
  const [note, setNote] = useState('');
  const [outcome, setOutcome] = useState('');
  const [noteKey, setNoteKey] = useState(0);
  const hasOutcome = OUTCOME_KINDS.includes(kind);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (e) => {
    e.preventDefault();
    if (kind === 'escalated' && !level) {
      setError(problem(t('field_level'), 'missing_field'));
      return;
    }
    if (kind === 'followup' && satisfied === null) {
      setError(t('chooseSatisfied'));
      return;
    }
    const ev = { kind };
    if (kind === 'escalated') ev.level = level;
    if (kind === 'followup') ev.satisfied = satisfied;
    if (hasOutcome && outcome.trim()) ev.outcome = outcome.trim();
    if (note.trim()) ev.note = note.trim();
    setBusy(true);
    setError('');
    try {
      await client.addEvent(id, ev);
      setNote('');
      setOutcome('');
      setNoteKey((k) => k + 1);
      setSatisfied(null);
    } catch (err) {
      setError(saveErrorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card add-event" data-testid="add-event" onSubmit={submit} noValidate>
      <h2>{t('addEvent')}</h2>
      <Field title={t('eventKind')}>
        <select class="input" data-testid="event-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
          {kinds.map((k) => (
            <option value={k} key={k}>
              {label('eventKind', k)}
            </option>
          ))}
        </select>
      </Field>
      {kind === 'escalated' && (
        <Field title={t('level')} required>
          <VocabSelect vocab="level" testid="event-level" value={level} onChange={setLevel} allowEmpty />
        </Field>
      )}
      {kind === 'followup' && (
        <div class="field">
          <span class="field-label">
            {t('satisfied')}
            <span class="req"> *</span>
          </span>
          <div class="segmented">
            <button type="button" class={`toggle${satisfied === true ? ' on' : ''}`} aria-pressed={satisfied === true ? 'true' : 'false'} data-testid="event-satisfied-yes" onClick={() => setSatisfied(true)}>
              {t('yes')}
            </button>
            <button type="button" class={`toggle${satisfied === false ? ' on' : ''}`} aria-pressed={satisfied === false ? 'true' : 'false'} data-testid="event-satisfied-no" onClick={() => setSatisfied(false)}>
              {t('no')}
            </button>
          </div>
        </div>
      )}
      {hasOutcome && (
        <Field title={t('outcomeOptional')}>
          <TextInput testid="event-outcome" value={outcome} onChange={setOutcome} key={`o${noteKey}`} />
        </Field>
      )}
      <Field title={t('eventNote')}>
        <TextInput multiline rows={3} testid="event-note" value={note} onChange={setNote} key={noteKey} />
      </Field>
      {error && (
        <p class="form-error" role="alert" data-testid="event-error">
          {error}
        </p>
      )}
      <button type="submit" class="button primary block" data-testid="event-add" disabled={busy}>
        {busy ? t('saving') : t('add')}
      </button>
    </form>
  );
}

function RiskControl({ id, risk }) {
  const { client } = useApp();
  const [error, setError] = useState('');
  return (
    <section class="card" data-testid="risk-control">
      <h2>{t('changeRisk')}</h2>
      <div class="segmented">
        {values('risk').map((r) => (
          <button
            type="button"
            key={r}
            class={`toggle risk-${r}${risk === r ? ' on' : ''}`}
            aria-pressed={risk === r ? 'true' : 'false'}
            data-testid={`set-risk-${r}`}
            onClick={() => {
              if (r === risk) return;
              setError('');
              client.setRisk(id, r).catch((err) => setError(saveErrorText(err)));
            }}
          >
            {label('risk', r)}
          </button>
        ))}
      </div>
      {error && <p class="form-error">{error}</p>}
    </section>
  );
}

function Dispute({ data, canWrite }) {
  const { client, identity, nameOf, placeOf } = useApp();
  const [error, setError] = useState('');
  const r = data.record ?? {};
  const s = data.summary ?? {};
  const events = timeline(r.events ?? r.timeline ?? []);
  const assignees = assigneeList(r.assignees ?? s.assignees);
  const parties = r.parties ?? (s.partyNames ?? []).map((name) => ({ name }));
  // The 督办 in effect: its deadline, and the note of the supervision that set it.
  const supervisionDue = r.supervisionDue ?? s.supervisionDue;
  const supervisionNote =
    supervisionDue != null
      ? text(events.filter((e) => e.kind === 'supervised' && Number(e.due) === Number(supervisionDue)).at(-1)?.note)
      : '';
  return (
    <>
      <section class="card">
        <h2>{t('facts')}</h2>
        <Facts
          rows={[
            [t('status'), s.status ? `${label('status', s.status)}${s.escalationLevel ? ` · ${label('level', s.escalationLevel)}` : ''}` : null, 'fact-status'],
            [t('stage'), stageText(r.stage ?? s.stage, r.handlingLevel ?? s.handlingLevel), 'fact-stage'],
            [
              t('supervisionDue'),
              supervisionDue != null ? (
                <>
                  <span class={supervisionDue < Date.now() ? 'late' : undefined}>{day(supervisionDue)}</span>
                  {supervisionNote && (
                    <span class="fact-note" data-testid="fact-supervision-note">
                      {t('dot')}
                      {supervisionNote}
                    </span>
                  )}
                </>
              ) : null,
              'fact-supervision',
            ],
            [t('category'), label('category', r.category ?? s.category), 'fact-category'],
            [t('risk'), label('risk', r.risk ?? s.risk), 'fact-risk'],
            [t('village'), placeOf(s.village), 'fact-village'],
            [t('createdBy'), nameOf(s.createdBy), 'fact-created-by'],
            [t('createdAt'), when(s.createdAt), 'fact-created-at'],
            [t('assignees'), assignees.map(nameOf).join(t('listJoin')), 'fact-assignees'],
            [t('duplicateOf'), s.duplicateOf ? <a href={`#/record/${encodeURIComponent(s.duplicateOf)}`}>{t('open')}</a> : null, 'fact-duplicate'],
          ]}
        />
        {text(r.description) && (
          <p class="description" data-testid="fact-description">
            {text(r.description)}
          </p>
        )}
        {canWrite && identity?.person && !assignees.includes(identity.person) && (
          <button
            type="button"
            class="button block"
            data-testid="assign-me"
            onClick={() => client.assign(data.id, identity.person).catch((err) => setError(saveErrorText(err)))}
          >
            {t('assignMe')}
          </button>
        )}
        {error && <p class="form-error">{error}</p>}
      </section>
      <section class="card" data-testid="record-parties">
        <h2>{t('parties')}</h2>
        <ul class="party-list">
          {parties.map((p, i) => (
            <li key={i} data-testid="party">
              <span class="party-name">{text(p.name)}</span>
              {p.role && <span class="chip">{label('partyRole', p.role)}</span>}
              {p.phone && (
                <a class="phone" href={`tel:${text(p.phone).replace(/[^\d+]/g, '')}`}>
                  {text(p.phone)}
                </a>
              )}
            </li>
          ))}
        </ul>
      </section>
      {canWrite && <RiskControl id={data.id} risk={r.risk ?? s.risk} />}
      <section class="card" data-testid="timeline">
        <h2>{t('timeline')}</h2>
        {events.length === 0 ? (
          <Empty>{t('noEvents')}</Empty>
        ) : (
          <ol class="events">
            {events.map((e, i) => (
              <EventItem e={e} key={`${e.at}-${e.by}-${e.position ?? i}`} />
            ))}
          </ol>
        )}
      </section>
      {canWrite && <AddEvent id={data.id} />}
    </>
  );
}

function Visit({ data, canWrite }) {
  const { client, nameOf, placeOf } = useApp();
  const r = data.record ?? {};
  const s = data.summary ?? {};
  const follow = r.followUp ?? { needed: s.followUpNeeded, done: s.followUpDone, dueAt: s.followUpDue };
  const topics = topicList(r.topics ?? s.topics);
  const [error, setError] = useState('');
  let followText = t('followUpNone');
  if (follow.done) followText = t('followUpDone');
  else if (follow.needed) followText = follow.dueAt != null ? t('followUpDueOn', { date: day(follow.dueAt) }) : t('followUpNoDate');
  return (
    <>
      <section class="card">
        <h2>{t('facts')}</h2>
        <Facts
          rows={[
            [t('field_household'), text(r.household ?? s.title), 'fact-household'],
            [t('field_group'), text(r.group), 'fact-group'],
            [t('visitedAt'), when(r.visitedAt ?? s.visitedAt), 'fact-visited-at'],
            [t('sentiment'), label('sentiment', r.sentiment ?? s.sentiment), 'fact-sentiment'],
            [t('village'), placeOf(s.village), 'fact-village'],
            [t('createdBy'), nameOf(s.createdBy), 'fact-created-by'],
          ]}
        />
        {topics.length > 0 && (
          <div class="row-chips fact-chips" data-testid="fact-topics">
            {topics.map((tp) => (
              <Chip vocab="topic" value={tp} key={tp} />
            ))}
          </div>
        )}
        {text(r.notes) && (
          <p class="description" data-testid="fact-notes">
            {text(r.notes)}
          </p>
        )}
      </section>
      <section class="card" data-testid="visit-followup" data-needed={follow.needed ? 'true' : 'false'} data-done={follow.done ? 'true' : 'false'}>
        <h2>{t('followUp')}</h2>
        <p data-testid="followup-state">{followText}</p>
        {canWrite && follow.needed && !follow.done && (
          <button
            type="button"
            class="button primary block"
            data-testid="followup-done"
            onClick={() => client.markFollowUpDone(data.id).catch((err) => setError(saveErrorText(err)))}
          >
            {t('markFollowUpDone')}
          </button>
        )}
        {canWrite && !(follow.needed && !follow.done) && <ScheduleFollowUp id={data.id} onError={setError} />}
        {error && <p class="form-error">{error}</p>}
      </section>
    </>
  );
}

function ScheduleFollowUp({ id, onError }) {
  const { client } = useApp();
  const [due, setDue] = useState('');
  return (
    <div class="schedule" data-testid="schedule-followup-box">
      <Field title={t('followUpDueDate')}>
        <input type="date" class="input" data-testid="schedule-date" value={due} onInput={(e) => setDue(e.currentTarget.value)} />
      </Field>
      <button
        type="button"
        class="button block"
        data-testid="schedule-followup"
        onClick={() => {
          onError('');
          client.scheduleFollowUp(id, dateToMillis(due)).then(() => setDue(''), (err) => onError(saveErrorText(err)));
        }}
      >
        {t('scheduleFollowUp')}
      </button>
    </div>
  );
}

export function RecordPage({ id }) {
  const { client, identity } = useApp();
  const { data, loading } = useData(() => client.get(id), [id]);
  const [news, setNews] = useState(null);
  const seen = useRef(false);

  // Keep the news on screen while the page is open; it is marked seen when the
  // cadre dismisses it or leaves the page.
  useEffect(() => {
    if (data?.news) {
      setNews(data.news);
      seen.current = false;
    }
  }, [data?.news]);
  useEffect(
    () => () => {
      if (!seen.current) client.markSeen(id).catch(() => {});
    },
    [id],
  );

  if (!data) {
    return loading ? null : (
      <section class="screen" data-testid="record-missing">
        <Empty>{t('notFound')}</Empty>
        <a class="button" href="#/records">
          {t('back')}
        </a>
      </section>
    );
  }
  const s = data.summary ?? {};
  const canWrite = identity?.write !== false;
  return (
    <section class="screen record" data-testid="record" data-id={data.id} data-kind={s.kind} data-sync={data.sync}>
      <div class="record-head">
        <a class="back" href="#/records" data-testid="back">
          ‹ {t('back')}
        </a>
        <SyncBadge sync={data.sync} />
      </div>
      <h1 data-testid="record-title">{plain(s.title) || text(data.record?.title) || t('untitled')}</h1>
      <div class="row-chips">
        <span class={`chip chip-kind-${s.kind}`}>{label('recordKind', s.kind)}</span>
        {s.status && <Chip vocab="status" value={s.status} />}
        {s.risk && (
          <span class={`chip chip-risk-${s.risk}`}>
            {t('riskChip', { risk: label('risk', s.risk) })}
          </span>
        )}
      </div>
      {news && (
        <NewsBanner
          news={news}
          onDismiss={() => {
            seen.current = true;
            setNews(null);
            client.markSeen(id).catch(() => {});
          }}
        />
      )}
      {data.readError && (
        <p class="notice" role="alert" data-testid="read-error">
          {t('readError')}
        </p>
      )}
      <Attention id={data.id} attention={data.attention} canWrite={canWrite} />
      {s.kind === 'visit' ? <Visit data={data} canWrite={canWrite} /> : <Dispute data={data} canWrite={canWrite} />}
    </section>
  );
}
