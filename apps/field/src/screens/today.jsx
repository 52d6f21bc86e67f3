// Today: follow-ups due, overdue cases, cases assigned to me, records that need attention.

import { useApp, useData } from '../app.jsx';
import { t } from '../i18n.js';
import { Empty } from '../ui.jsx';
import { RecordList } from './row.jsx';

const SECTIONS = [
  ['followUpsDue', 'todayFollowUps', 'today-followups'],
  ['overdue', 'todayOverdue', 'today-overdue'],
  ['assignedToMe', 'todayAssigned', 'today-assigned'],
  ['attention', 'todayAttention', 'today-attention'],
];

export function Today() {
  const { client, identity } = useApp();
  const { data, error } = useData(() => client.today(), []);
  return (
    <section class="screen" data-testid="today">
      <h1>{t('todayTitle')}</h1>
      {identity?.personName && <p class="lead">{t('hello', { name: identity.personName })}</p>}
      {identity?.write === false && <p class="notice">{t('readOnly')}</p>}
      {error && !data && (
        <p class="form-error" role="alert" data-testid="load-error">
          {t('loadFailed', { message: error?.message ?? String(error) })}
        </p>
      )}
      {SECTIONS.map(([key, title, testid]) => {
        const items = data?.[key] ?? [];
        return (
          <section class="group" data-testid={testid} key={key}>
            <h2>
              {title && t(title)} <span class="count">{items.length}</span>
            </h2>
            {data && items.length === 0 ? <Empty>{t('todayNothing')}</Empty> : <RecordList items={items} limit={50} />}
          </section>
        );
      })}
    </section>
  );
}
