// Turns what the library reports (merge news, server refusals, validation
// errors) into sentences in the cadre's language.

import { day, has, label, problem, t } from './i18n.js';

/**
 * The display name of a person id: a name from /v1/people, "me", or
 * "another phone" for an id we do not know. Never the id itself.
 * @param {Map<string,string>|null} people
 * @param {string|null|undefined} id
 * @param {string|null|undefined} myId
 * @param {string|null|undefined} myName
 */
/**
 * Text another phone typed, as the app shows it: without the bidirectional
 * controls (U+202A–202E, U+2066–2069) that could make "abc‮lived" read as
 * something else. The record keeps what was typed; only the display drops them.
 * @param {unknown} value
 * @returns {string}
 */
export function plain(value) {
  return value == null ? '' : String(value).replace(/[\u202A-\u202E\u2066-\u2069]/g, '');
}

export function personName(people, id, myId, myName) {
  if (!id) return t('anotherPhone');
  if (id === myId) return myName || t('me');
  return people?.get?.(id) || t('anotherPhone');
}

/**
 * Lines describing what a merge did to a record.
 * @param {any} news  {eventsAdded, statusBefore, statusAfter, riskBefore, riskAfter, riskConflict, sentimentConflict}
 * @param {(id: string) => string} nameOf
 * @returns {{key: string, text: string}[]}
 */
export function newsLines(news, nameOf) {
  if (!news) return [];
  const lines = [];
  if (news.statusAfter && news.statusAfter !== news.statusBefore) {
    if (news.statusAfter === 'escalated') {
      const level = news.eventsAdded?.filter((e) => e.kind === 'escalated' && e.level).at(-1)?.level ?? news.levelAfter;
      lines.push({
        key: 'status',
        text: level === 'town' ? t('newsEscalatedTown') : level ? t('newsEscalated', { level: label('level', level) }) : t('newsStatus', {
          after: label('status', news.statusAfter),
          before: label('status', news.statusBefore),
        }),
      });
    } else {
      lines.push({
        key: 'status',
        text: t('newsStatus', {
          after: label('status', news.statusAfter),
          before: label('status', news.statusBefore ?? 'open'),
        }),
      });
    }
  }
  if (news.stageAfter && news.stageBefore && news.stageAfter !== news.stageBefore) {
    lines.push({
      key: 'stage',
      text: t('newsStage', { after: label('stage', news.stageAfter), before: label('stage', news.stageBefore) }),
    });
  }
  const added = news.eventsAdded ?? [];
  for (const e of added) {
    if (e.kind === 'assigned' && e.assignee) {
      lines.push({ key: `assigned-${e.at}-${e.assignee}`, text: t('newsAssigned', { who: nameOf(e.by), handler: nameOf(e.assignee) }) });
    } else if (e.kind === 'supervised') {
      lines.push({
        key: `supervised-${e.at}`,
        text: e.due != null ? t('newsSupervisedDue', { who: nameOf(e.by), date: day(e.due) }) : t('newsSupervised', { who: nameOf(e.by) }),
      });
    }
  }
  // Other events are counted per person (assignments and supervision are said above).
  const counted = added.filter((e) => !(e.kind === 'assigned' && e.assignee) && e.kind !== 'supervised');
  if (counted.length) {
    const byWho = new Map();
    for (const e of counted) byWho.set(e.by, (byWho.get(e.by) ?? 0) + 1);
    for (const [by, n] of byWho) {
      lines.push({ key: `events-${by}`, text: t(n === 1 ? 'newsEvent1' : 'newsEvents', { who: nameOf(by), n }) });
    }
  }
  if (news.riskConflict && news.riskConflict.length) {
    lines.push({ key: 'riskConflict', text: t('newsRiskConflict') });
  } else if (news.riskAfter && news.riskBefore && news.riskAfter !== news.riskBefore) {
    lines.push({
      key: 'risk',
      text: t('newsRisk', { after: label('risk', news.riskAfter), before: label('risk', news.riskBefore) }),
    });
  }
  if (news.sentimentConflict && news.sentimentConflict.length) {
    lines.push({ key: 'sentimentConflict', text: t('newsSentimentConflict') });
  }
  return lines;
}

/** The reason a record needs attention, in the cadre's language. */
export function attentionText(attention) {
  if (!attention) return '';
  const key = `a_${attention.code}`;
  return has(key) ? t(key) : t('a_other');
}

/** A field path such as "parties[1].name" in words. */
export function fieldName(path) {
  const top = String(path ?? '').split(/[.[]/)[0];
  const key = `field_${top}`;
  const base = has(key) ? t(key) : top;
  const index = /^parties\[(\d+)\](?:\.(\w+))?/.exec(path ?? '');
  if (!index) return base;
  const party = t('partyN', { n: Number(index[1]) + 1 });
  const sub = { name: 'partyName', role: 'partyRole', phone: 'phone' }[index[2]];
  return sub ? t('partyField', { party, field: t(sub) }) : party;
}

/** One validation error in words: "标题 不能为空" / "Title must not be empty". */
export function validationText(error) {
  return problem(fieldName(error.field), has(`v_${error.code}`) ? error.code : 'other');
}

/** Sync/error codes for the sync bar. */
export function errorText(error) {
  if (!error) return '';
  const key = `a_${error.code}`;
  return has(key) ? t(key) : error.message || error.code;
}

/**
 * Why an edit was not saved: validation errors field by field, an edit or
 * client error by its code, anything else by its message.
 * @param {any} err
 */
export function saveErrorText(err) {
  if (Array.isArray(err?.errors)) {
    return t('validationFailed', { detail: err.errors.map(validationText).join(t('join')) });
  }
  const key = `e_${err?.code}`;
  if (err?.code && has(key)) return t('saveFailed', { message: t(key) });
  return t('saveFailed', { message: err?.message ?? String(err) });
}
