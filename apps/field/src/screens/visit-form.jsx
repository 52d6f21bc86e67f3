// New household visit: household, 村民小组, topics, sentiment, notes, follow-up.

import { useEffect, useRef, useState } from 'preact/hooks';
import { useApp } from '../app.jsx';
import { saveErrorText } from '../describe.js';
import { label, problem, t, values } from '../i18n.js';
import { clearDraft, loadDraft, saveDraft } from '../drafts.js';
import { go } from '../router.js';
import { Field, focusFirstProblem, TextInput, VocabSelect } from '../ui.jsx';
import { DraftNotice, errorsByField, scopeVillage, VillageField, villageError } from './dispute-form.jsx';

/** 'YYYY-MM-DD' from an <input type=date> → the start of that day, local time. */
export function dateToMillis(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text ?? '');
  if (!m) return null;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])).getTime();
}

export function VisitForm() {
  const { client, identity } = useApp();
  const [draft] = useState(() => loadDraft('visit', identity?.device));
  const [household, setHousehold] = useState(draft?.household ?? '');
  const [group, setGroup] = useState(draft?.group ?? '');
  const [topics, setTopics] = useState(/** @type {string[]} */ (Array.isArray(draft?.topics) ? draft.topics : []));
  const [sentiment, setSentiment] = useState(/** @type {string|null} */ (draft?.sentiment ?? null));
  const [notes, setNotes] = useState(draft?.notes ?? '');
  const [followUp, setFollowUp] = useState(!!draft?.followUp);
  const [due, setDue] = useState(draft?.due ?? '');
  const [village, setVillage] = useState(draft?.village ?? scopeVillage(identity) ?? '');
  const [restored, setRestored] = useState(!!draft);
  const saved = useRef(false);
  const [errors, setErrors] = useState(/** @type {Record<string,string>} */ ({}));
  const [formError, setFormError] = useState('');
  const [busy, setBusy] = useState(false);

  // Keep a draft while the form holds anything typed or chosen.
  useEffect(() => {
    const timer = setTimeout(() => {
      if (saved.current) return;
      const typed = household.trim() || group.trim() || notes.trim() || topics.length || sentiment || followUp;
      if (typed) saveDraft('visit', identity?.device, { household, group, topics, sentiment, notes, followUp, due, village });
      else clearDraft('visit');
    }, 300);
    return () => clearTimeout(timer);
  }, [household, group, topics, sentiment, notes, followUp, due, village]);

  const startOver = () => {
    clearDraft('visit');
    setHousehold('');
    setGroup('');
    setTopics([]);
    setSentiment(null);
    setNotes('');
    setFollowUp(false);
    setDue('');
    setVillage(scopeVillage(identity) ?? '');
    setErrors({});
    setFormError('');
    setRestored(false);
  };

  const toggle = (topic) => setTopics((ts) => (ts.includes(topic) ? ts.filter((x) => x !== topic) : [...ts, topic]));

  const submit = async (e) => {
    e.preventDefault();
    const found = {};
    if (!household.trim()) found.household = problem(t('field_household'), 'empty');
    if (!sentiment) found.sentiment = problem(t('field_sentiment'), 'missing_field');
    if (!scopeVillage(identity)) {
      const bad = villageError(identity, village);
      if (bad) found.village = bad;
    }
    setErrors(found);
    setFormError('');
    if (Object.keys(found).length) {
      focusFirstProblem();
      return;
    }
    setBusy(true);
    try {
      const dueAt = followUp ? dateToMillis(due) : null;
      const id = await client.createVisit({
        village,
        visitedAt: Date.now(),
        household: household.trim(),
        ...(group.trim() ? { group: group.trim() } : {}),
        topics: values('topic').filter((v) => topics.includes(v)),
        sentiment,
        notes: notes.trim(),
        followUp: dueAt != null ? { needed: followUp, dueAt } : { needed: followUp },
      });
      saved.current = true;
      clearDraft('visit');
      go(`/record/${encodeURIComponent(id)}`, undefined, { replace: true });
    } catch (err) {
      if (Array.isArray(err?.errors)) {
        const byField = errorsByField(err.errors);
        setErrors(byField);
        focusFirstProblem();
        setFormError(t('validationFailed', { detail: Object.values(byField).join(t('join')) }));
      } else {
        setFormError(saveErrorText(err));
      }
    } finally {
      setBusy(false);
    }
  };

  if (identity?.write === false) return <p class="notice">{t('readOnly')}</p>;

  return (
    <form class="screen form" data-testid="visit-form" onSubmit={submit} noValidate>
      <h1>{t('newVisitTitle')}</h1>
      {restored && <DraftNotice onStartOver={startOver} />}
      <VillageField identity={identity} village={village} setVillage={setVillage} error={errors.village} />
      <Field title={t('household')} required error={errors.household}>
        <TextInput testid="field-household" value={household} onChange={setHousehold} invalid={!!errors.household} />
      </Field>
      <Field title={t('group')} error={errors.group}>
        <TextInput testid="field-group" value={group} onChange={setGroup} />
      </Field>
      <fieldset class="topics" data-testid="topics">
        <legend>{t('topics')}</legend>
        <div class="toggles">
          {values('topic').map((v) => (
            <button
              type="button"
              key={v}
              class={`toggle${topics.includes(v) ? ' on' : ''}`}
              aria-pressed={topics.includes(v) ? 'true' : 'false'}
              data-testid={`topic-${v}`}
              onClick={() => toggle(v)}
            >
              {label('topic', v)}
            </button>
          ))}
        </div>
        {errors.topics && <p class="field-error">{errors.topics}</p>}
      </fieldset>
      <Field title={t('sentiment')} required error={errors.sentiment}>
        <VocabSelect vocab="sentiment" testid="field-sentiment" value={sentiment} onChange={setSentiment} allowEmpty invalid={!!errors.sentiment} />
      </Field>
      <Field title={t('notes')} error={errors.notes}>
        <TextInput multiline rows={5} testid="field-notes" value={notes} onChange={setNotes} />
      </Field>
      <label class="check big">
        <input type="checkbox" data-testid="field-followup" checked={followUp} onChange={(e) => setFollowUp(e.currentTarget.checked)} />
        <span>{t('followUpNeeded')}</span>
      </label>
      {followUp && (
        <Field title={t('followUpDueDate')} error={errors.followUp}>
          <input type="date" class="input" data-testid="field-due" value={due} onInput={(e) => setDue(e.currentTarget.value)} />
        </Field>
      )}
      {formError && (
        <p class="form-error" role="alert" data-testid="form-error">
          {formError}
        </p>
      )}
      <div class="actions">
        <button
          type="button"
          class="button"
          data-testid="cancel"
          onClick={() => {
            saved.current = true;
            clearDraft('visit');
            history.back();
          }}
        >
          {t('cancel')}
        </button>
        <button type="submit" class="button primary" data-testid="save" disabled={busy}>
          {busy ? t('saving') : t('save')}
        </button>
      </div>
      <p class="hint">{t('savedLocally')}</p>
    </form>
  );
}
