// Unsaved edits: whether a form holds edits that are not saved, and the question asked before
// leaving a page that has some. The list of such forms lives in `router.ts`, which asks.

/** Whether a form's values differ from those saved (plain data: strings, numbers, lists, records). */
export function edited(values: unknown, saved: unknown): boolean {
  return JSON.stringify(values) !== JSON.stringify(saved);
}

/** "the shifts", "the shifts and a new alert rule", "the shifts, a new report and the reason “Jam”". */
export function listed(whats: readonly string[]): string {
  const unique = [...new Set(whats)];
  if (unique.length <= 1) return unique[0] ?? '';
  return `${unique.slice(0, -1).join(', ')} and ${unique[unique.length - 1]}`;
}

/** What `window.confirm` asks: "You have unsaved changes to the shifts. Leave without saving?" */
export function leaveQuestion(whats: readonly string[]): string {
  return `You have unsaved changes to ${listed(whats) || 'this page'}. Leave without saving?`;
}
