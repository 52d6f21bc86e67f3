// Unsaved forms survive a reload, an app update or the phone killing the
// browser in the background: each new-record form keeps a draft in
// localStorage, for the device that wrote it, until it is saved, cancelled
// or the phone is erased.

const PREFIX = 'fengqiao-field-draft-';
const KINDS = ['dispute', 'visit'];

/** @returns {Record<string, any> | null} */
export function loadDraft(kind, device) {
  try {
    const draft = JSON.parse(globalThis.localStorage?.getItem(PREFIX + kind) ?? 'null');
    return draft && draft.device === device && draft.fields && typeof draft.fields === 'object' ? draft.fields : null;
  } catch {
    return null;
  }
}

export function saveDraft(kind, device, fields) {
  try {
    globalThis.localStorage?.setItem(PREFIX + kind, JSON.stringify({ device, fields }));
  } catch {
    // Storage full or private mode: the form still works, without a draft.
  }
}

export function clearDraft(kind) {
  try {
    globalThis.localStorage?.removeItem(PREFIX + kind);
  } catch {
    // nothing to clear
  }
}

export function clearAllDrafts() {
  for (const kind of KINDS) clearDraft(kind);
}
