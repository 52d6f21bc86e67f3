// Hash routes after the set-up is consumed: #/today, #/records?q=…,
// #/record/<id>, #/new/dispute, #/new/visit, #/settings.

import { useEffect, useState } from 'preact/hooks';

/** @returns {{path: string, parts: string[], params: URLSearchParams}} */
export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#/, '');
  const q = raw.indexOf('?');
  const path = (q >= 0 ? raw.slice(0, q) : raw) || '/today';
  const params = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
  const parts = path.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { path, parts, params };
}

/** Builds a hash for `path` with `params` (empty values left out). */
export function href(path, params) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) {
    if (v !== undefined && v !== null && v !== '' && v !== false) query.set(k, v === true ? '1' : String(v));
  }
  const qs = query.toString();
  return `#${path}${qs ? `?${qs}` : ''}`;
}

/**
 * Goes to `path`. With `replace`, the current entry is replaced (a saved form
 * is not where Back should return to).
 */
export function go(path, params, { replace: instead = false } = {}) {
  if (instead) location.replace(`${location.pathname}${location.search}${href(path, params)}`);
  else location.hash = href(path, params);
}

/** Replaces the current entry (filters typed into the list do not pile up history). */
export function replace(path, params) {
  history.replaceState(history.state, '', `${location.pathname}${href(path, params)}`);
}

export function useRoute() {
  const [route, setRoute] = useState(() => parseHash());
  useEffect(() => {
    const on = () => setRoute(parseHash());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
