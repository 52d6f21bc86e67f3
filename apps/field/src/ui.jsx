// Small building blocks. Text fields are plain <input>/<textarea> elements
// that the app never rewrites while an input method is composing, so pinyin,
// handwriting and voice typing work: the value is reported on `input` events
// outside a composition and once more at `compositionend`.

import { useLayoutEffect, useRef } from 'preact/hooks';
import { label, t, values } from './i18n.js';

/**
 * @param {{value: string, onChange: (v: string) => void, testid: string, multiline?: boolean,
 *          type?: string, placeholder?: string, rows?: number, id?: string, inputMode?: string,
 *          autoComplete?: string, invalid?: boolean, maxLength?: number}} props
 */
export function TextInput({ value, onChange, testid, multiline, invalid, ...rest }) {
  const ref = useRef(null);
  const composing = useRef(false);
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && !composing.current && el.value !== (value ?? '')) el.value = value ?? '';
  }, [value]);
  const report = (e) => onChange(e.currentTarget.value);
  const props = {
    ref,
    'data-testid': testid,
    'aria-invalid': invalid ? 'true' : undefined,
    class: invalid ? 'input invalid' : 'input',
    onInput: (e) => {
      if (e.isComposing || composing.current) return;
      report(e);
    },
    // Lower case on purpose: Preact takes the event name from the prop as
    // written unless the element has an `on…` property for it, and there is
    // none for composition events (onCompositionEnd would listen for
    // "CompositionEnd", which never fires).
    oncompositionstart: () => {
      composing.current = true;
    },
    oncompositionend: (e) => {
      composing.current = false;
      report(e);
    },
    ...rest,
  };
  return multiline ? <textarea rows={rest.rows ?? 4} {...props} /> : <input type={rest.type ?? 'text'} {...props} />;
}

/** A labelled form row. */
export function Field({ title, hint, error, children, required, testid }) {
  return (
    <label class="field" data-testid={testid}>
      <span class="field-label">
        {title}
        {required && <span class="req"> *</span>}
      </span>
      {children}
      {hint && <span class="field-hint">{hint}</span>}
      {error && (
        <span class="field-error" role="alert">
          {error}
        </span>
      )}
    </label>
  );
}

/** A <select> over a schema vocabulary. */
export function VocabSelect({ vocab, value, onChange, testid, allowEmpty, emptyLabel, invalid }) {
  return (
    <select
      class={invalid ? 'input invalid' : 'input'}
      data-testid={testid}
      value={value ?? ''}
      onChange={(e) => onChange(e.currentTarget.value || null)}
    >
      {allowEmpty && <option value="">{emptyLabel ?? t('choose')}</option>}
      {values(vocab).map((v) => (
        <option value={v} key={v}>
          {label(vocab, v)}
        </option>
      ))}
    </select>
  );
}

/** A label chip for a vocabulary value. */
export function Chip({ vocab, value, kind }) {
  if (value == null) return null;
  return <span class={`chip chip-${kind ?? vocab}-${value}`}>{label(vocab, value)}</span>;
}

/** The per-record sync state: 未发送 / 已同步 / 需处理. */
export function SyncBadge({ sync }) {
  return (
    <span class={`sync-badge sync-${sync}`} data-testid="sync-badge" data-sync={sync}>
      {t(`sync_${sync}`)}
    </span>
  );
}

export function Empty({ children, testid }) {
  return (
    <p class="empty" data-testid={testid}>
      {children}
    </p>
  );
}

/** After a failed submit: scroll to and focus the first field marked invalid. */
export function focusFirstProblem() {
  requestAnimationFrame(() => {
    const el = document.querySelector('[aria-invalid="true"], .field-error, .form-error');
    if (!el) return;
    el.scrollIntoView({ block: 'center' });
    if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement) el.focus({ preventScroll: true });
  });
}
