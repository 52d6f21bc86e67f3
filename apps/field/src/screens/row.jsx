// One record in a list: title, kind, status or sentiment, risk, parties,
// last activity and its sync state.

import { useApp } from '../app.jsx';
import { attentionText, plain } from '../describe.js';
import { day, label, t, when } from '../i18n.js';
import { followUpOverdue, followUpPending, isOverdue } from '../lib.js';
import { Chip, SyncBadge } from '../ui.jsx';

export function RecordRow({ item, now }) {
  const { identity, places } = useApp();
  const s = item.summary;
  // Beyond one village, each row says which village it is in.
  const manyVillages = !/^\d{12}$/.test(String(identity?.scope ?? ''));
  const village = manyVillages ? places?.get?.(s.village) ?? s.village : null;
  const dispute = s.kind === 'dispute';
  // The library's rules, so the marks agree with the Today view and the statistics.
  const followUpOwed = followUpPending(s);
  const overdueFollowUp = followUpOverdue(s, now);
  const overdueCase = isOverdue(s, now);
  return (
    <li>
      <a
        class={`row${item.news ? ' row-news' : ''}`}
        href={`#/record/${encodeURIComponent(item.id)}`}
        data-testid="record-row"
        data-id={item.id}
        data-kind={s.kind}
        data-sync={item.sync}
      >
        <span class="row-top">
          <span class="row-title">{plain(s.title) || t('untitled')}</span>
          <SyncBadge sync={item.sync} />
        </span>
        <span class="row-chips">
          <span class={`chip chip-kind-${s.kind}`}>{label('recordKind', s.kind)}</span>
          {dispute && <Chip vocab="status" value={s.status} />}
          {dispute && s.risk && (
            <span class={`chip chip-risk-${s.risk}`}>
              {t('riskChip', { risk: label('risk', s.risk) })}
            </span>
          )}
          {dispute && s.supervisionDue != null && s.status !== 'resolved' && (
            <span class={`chip ${s.supervisionDue < now ? 'chip-warn' : 'chip-followup'}`} data-testid="row-supervised">
              {t('supervisedChip', { date: day(s.supervisionDue) })}
            </span>
          )}
          {overdueCase && (
            <span class="chip chip-warn" data-testid="row-overdue">
              {t('overdue')}
            </span>
          )}
          {!dispute && <Chip vocab="sentiment" value={s.sentiment} />}
          {followUpOwed && (
            <span class={`chip ${overdueFollowUp ? 'chip-warn' : 'chip-followup'}`}>
              {s.followUpDue != null ? t('followUpDue', { date: day(s.followUpDue) }) : t('followUpPending')}
            </span>
          )}
          {item.news && (
            <span class="chip chip-news" data-testid="row-news">
              {t('updated')}
            </span>
          )}
        </span>
        {dispute && s.partyNames?.length > 0 && <span class="row-parties">{s.partyNames.map(plain).join(t('listJoin'))}</span>}
        {item.sync === 'attention' && item.attention && (
          <span class="row-attention" data-testid="row-attention">
            {attentionText(item.attention)}
          </span>
        )}
        <span class="row-meta">
          {village ? `${village}${t('dot')}` : ''}
          {t('lastActivity', { time: when(s.lastActivity) })}
        </span>
      </a>
    </li>
  );
}

export function RecordList({ items, testid, limit }) {
  const now = Date.now();
  const shown = limit ? items.slice(0, limit) : items;
  return (
    <ul class="rows" data-testid={testid}>
      {shown.map((item) => (
        <RecordRow item={item} now={now} key={item.id} />
      ))}
    </ul>
  );
}
