// Export of unsent records as a JSON file the cadre can hand to an administrator.

/** yyyymmdd-hhmm in local time, for the file name. */
function stamp(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}`;
}

/**
 * Asks the library for the unsent records and downloads them as a file.
 * @returns {Promise<number>} how many records were exported (0: no file)
 */
export async function downloadUnsent(client) {
  const data = await client.exportUnsent();
  const count = data?.records?.length ?? 0;
  if (!count) return 0;
  const blob = new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = `fengqiao-unsent-${stamp(data.exportedAt ?? Date.now())}.json`;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return count;
}
