// New dispute: title, description, category, risk, parties with role and
// phone; the village comes from the device's scope. While parties are typed,
// disputes of the same village with overlapping party names are offered.

import { useEffect, useRef, useState } from 'preact/hooks';
import { useApp } from '../app.jsx';
import { saveErrorText, validationText } from '../describe.js';
import { label, problem, t, values } from '../i18n.js';
import { clearDraft, loadDraft, saveDraft } from '../drafts.js';
import { go } from '../router.js';
import { Field, focusFirstProblem, TextInput, VocabSelect } from '../ui.jsx';

/** The village a new record goes to: the scope when it is a village. */
export function scopeVillage(identity) {
  const scope = typeof identity?.scope === 'string' ? identity.scope : '';
  return /^\d{12}$/.test(scope) ? scope : null;
}

/** Checks a village typed by a cadre whose scope is a town or a district. */
export function villageError(identity, village) {
  const scope = typeof identity?.scope === 'string' ? identity.scope : '';
  return /^\d{12}$/.test(village) && village.startsWith(scope) ? null : t('badVillage');
}

export function VillageField({ identity, village, setVillage, error }) {
  const { places, placeOf } = useApp();
  const fixed = scopeVillage(identity);
  if (fixed) {
    return (
      <div class="field">
        <span class="field-label">{t('village')}</span>
        <span class="fixed" data-testid="field-village-fixed" data-code={fixed}>
          {placeOf(fixed)}
        </span>
      </div>
    );
  }
  // A town or district cadre picks one of the scope's villages by name when
  // the names are known, else types its code.
  const scope = typeof identity?.scope === 'string' ? identity.scope : '';
  const villages = [...(places?.entries?.() ?? [])]
    .filter(([code]) => /^\d{12}$/.test(code) && code.startsWith(scope))
    .sort(([a], [b]) => (a < b ? -1 : 1));
  if (villages.length) {
    return (
      <Field title={t('village')} required error={error}>
        <select
          class={error ? 'input invalid' : 'input'}
          data-testid="field-village"
          value={village}
          onChange={(e) => setVillage(e.currentTarget.value)}
        >
          <option value="">{t('chooseVillage')}</option>
          {villages.map(([code, name]) => (
            <option value={code} key={code}>
              {t('placeWithCode', { name, code })}
            </option>
          ))}
        </select>
      </Field>
    );
  }
  return (
    <Field title={t('villageCode')} required error={error}>
      <TextInput testid="field-village" value={village} onChange={setVillage} inputMode="numeric" maxLength={12} invalid={!!error} />
    </Field>
  );
}

/** "Restored what you had not saved", with a way to start over. */
export function DraftNotice({ onStartOver }) {
  return (
    <div class="notice" role="status" data-testid="draft-restored">
      <span>{t('draftRestored')}</span>
      <button type="button" class="button small" data-testid="draft-discard" onClick={onStartOver}>
        {t('draftDiscard')}
      </button>
    </div>
  );
}

/** Maps library validation errors to form fields: {title: "…", parties: "…", …}. */
export function errorsByField(errors) {
  const out = {};
  for (const e of errors ?? []) {
    const top = String(e.field ?? '').split(/[.[]/)[0] || 'form';
    out[top] = out[top] ? `${out[top]}${t('join')}${validationText(e)}` : validationText(e);
  }
  return out;
}

const blankParty = (role) => ({ name: '', role, phone: '' });

const blankParties = () => [blankParty('applicant'), blankParty('respondent')];

export function DisputeForm() {
  const { client, identity } = useApp();
  const [draft] = useState(() => loadDraft('dispute', identity?.device));
  const [title, setTitle] = useState(draft?.title ?? '');
  const [description, setDescription] = useState(draft?.description ?? '');
  const [category, setCategory] = useState(/** @type {string|null} */ (draft?.category ?? null));
  const [risk, setRisk] = useState(draft?.risk ?? values('risk')[0] ?? 'low');
  const [parties, setParties] = useState(Array.isArray(draft?.parties) && draft.parties.length ? draft.parties : blankParties());
  const [village, setVillage] = useState(draft?.village ?? scopeVillage(identity) ?? '');
  const [restored, setRestored] = useState(!!draft);
  const saved = useRef(false);
  const [errors, setErrors] = useState(/** @type {Record<string,string>} */ ({}));
  const [formError, setFormError] = useState('');
  const [busy, setBusy] = useState(false);
  const [dupes, setDupes] = useState(/** @type {any[]} */ ([]));

  const names = parties.map((p) => p.name.trim()).filter(Boolean);
  const namesKey = names.join('\u0000');

  useEffect(() => {
    if (!names.length || !/^\d{12}$/.test(village)) {
      setDupes([]);
      return;
    }
    let live = true;
    const timer = setTimeout(() => {
      client
        .duplicatesFor({ village, category, parties: names.map((name) => ({ name })), reportedAt: Date.now() })
        .then((found) => live && setDupes(found ?? []), () => live && setDupes([]));
    }, 250);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [namesKey, village, category]);

  // Keep a draft while the form holds anything typed.
  useEffect(() => {
    const timer = setTimeout(() => {
      if (saved.current) return;
      const typed = title.trim() || description.trim() || category || parties.some((p) => p.name.trim() || p.phone.trim());
      if (typed) saveDraft('dispute', identity?.device, { title, description, category, risk, parties, village });
      else clearDraft('dispute');
    }, 300);
    return () => clearTimeout(timer);
  }, [title, description, category, risk, parties, village]);

  const startOver = () => {
    clearDraft('dispute');
    setTitle('');
    setDescription('');
    setCategory(null);
    setRisk(values('risk')[0] ?? 'low');
    setParties(blankParties());
    setVillage(scopeVillage(identity) ?? '');
    setErrors({});
    setFormError('');
    setRestored(false);
  };

  const setParty = (i, key) => (value) => setParties((ps) => ps.map((p, j) => (j === i ? { ...p, [key]: value } : p)));

  const submit = async (e) => {
    e.preventDefault();
    const found = {};
    if (!title.trim()) found.title = problem(t('field_title'), 'empty');
    if (!category) found.category = problem(t('field_category'), 'missing_field');
    if (!scopeVillage(identity)) {
      const bad = villageError(identity, village);
      if (bad) found.village = bad;
    }
    const kept = parties.filter((p) => p.name.trim() || p.phone.trim());
    kept.forEach((p, i) => {
      if (!p.name.trim()) found.parties = problem(t('partyField', { party: t('partyN', { n: i + 1 }), field: t('partyName') }), 'empty');
    });
    setErrors(found);
    setFormError('');
    if (Object.keys(found).length) {
      focusFirstProblem();
      return;
    }
    setBusy(true);
    try {
      const id = await client.createDispute({
        village,
        title: title.trim(),
        description: description.trim(),
        category,
        risk,
        parties: kept.map((p) => (p.phone.trim() ? { name: p.name.trim(), role: p.role, phone: p.phone.trim() } : { name: p.name.trim(), role: p.role })),
        assignees: identity?.person ? [identity.person] : [],
      });
      saved.current = true;
      clearDraft('dispute');
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
    <form class="screen form" data-testid="dispute-form" onSubmit={submit} noValidate>
      <h1>{t('newDisputeTitle')}</h1>
      {restored && <DraftNotice onStartOver={startOver} />}
      <VillageField identity={identity} village={village} setVillage={setVillage} error={errors.village} />
      <Field title={t('title')} required error={errors.title}>
        <TextInput testid="field-title" value={title} onChange={setTitle} placeholder={t('titleHint')} invalid={!!errors.title} />
      </Field>
      <Field title={t('category')} required error={errors.category}>
        <VocabSelect vocab="category" testid="field-category" value={category} onChange={setCategory} allowEmpty invalid={!!errors.category} />
      </Field>
      <Field title={t('risk')} required error={errors.risk}>
        <VocabSelect vocab="risk" testid="field-risk" value={risk} onChange={(v) => setRisk(v ?? risk)} />
      </Field>
      <Field title={t('description')} error={errors.description}>
        <TextInput multiline rows={4} testid="field-description" value={description} onChange={setDescription} />
      </Field>

      <fieldset class="parties" data-testid="parties">
        <legend>{t('parties')}</legend>
        {parties.map((p, i) => (
          <div class="party" data-testid={`party-${i}`} key={i}>
            <div class="party-head">
              <span class="party-n">{t('partyN', { n: i + 1 })}</span>
              {parties.length > 1 && (
                <button
                  type="button"
                  class="button small ghost"
                  data-testid={`party-remove-${i}`}
                  onClick={() => setParties((ps) => ps.filter((_, j) => j !== i))}
                >
                  {t('removeParty')}
                </button>
              )}
            </div>
            <Field title={t('partyName')}>
              <TextInput testid={`party-name-${i}`} value={p.name} onChange={setParty(i, 'name')} autoComplete="off" />
            </Field>
            <div class="two">
              <Field title={t('partyRole')}>
                <VocabSelect vocab="partyRole" testid={`party-role-${i}`} value={p.role} onChange={(v) => setParty(i, 'role')(v ?? 'other')} />
              </Field>
              <Field title={t('partyPhone')}>
                <TextInput testid={`party-phone-${i}`} type="tel" inputMode="tel" value={p.phone} onChange={setParty(i, 'phone')} autoComplete="off" />
              </Field>
            </div>
          </div>
        ))}
        {errors.parties && (
          <p class="field-error" role="alert">
            {errors.parties}
          </p>
        )}
        <button type="button" class="button block ghost" data-testid="party-add" onClick={() => setParties((ps) => [...ps, blankParty('other')])}>
          {t('addParty')}
        </button>
      </fieldset>

      {dupes.length > 0 && (
        <section class="duplicates" data-testid="duplicates" role="status">
          <h2>{t('duplicatesTitle')}</h2>
          <p>{t('duplicatesIntro')}</p>
          <ul class="rows">
            {dupes.map((d) => (
              <li key={d.id}>
                <a class="row dupe" href={`#/record/${encodeURIComponent(d.id)}`} data-testid="duplicate-suggestion" data-id={d.id}>
                  <span class="row-title">{d.summary?.title || t('untitled')}</span>
                  <span class="row-chips">
                    {d.summary?.status && <span class={`chip chip-status-${d.summary.status}`}>{label('status', d.summary.status)}</span>}
                    {d.summary?.category && <span class="chip">{label('category', d.summary.category)}</span>}
                  </span>
                  {d.summary?.partyNames?.length > 0 && <span class="row-parties">{d.summary.partyNames.join(t('listJoin'))}</span>}
                </a>
              </li>
            ))}
          </ul>
        </section>
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
            clearDraft('dispute');
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
