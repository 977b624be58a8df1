// How long a tenant keeps its history (`retention_days` of the settings): null keeps all of it.
// The settings page reads and writes it through these, so the rule of what the server takes
// (a whole number of days from 1 to 36500, or null) lives in one place on this side.

export const MAX_RETENTION_DAYS = 36_500;

/** The retention as a person reads it. */
export function describeRetention(days: number | null): string {
  if (days === null) return 'forever';
  return days === 1 ? '1 day' : `${days} days`;
}

/** What the form holds: keep all, or keep a number of days typed in. */
export type RetentionChoice = { forever: true } | { forever: false; days: string };

/**
 * The form's choice as the API takes it, or the message to show when the days are not a whole
 * number in range.
 */
export function parseRetention(choice: RetentionChoice): { ok: number | null } | { error: string } {
  if (choice.forever) return { ok: null };
  const text = choice.days.trim();
  const days = Number(text);
  if (!/^\d+$/.test(text) || days < 1 || days > MAX_RETENTION_DAYS) {
    return { error: `Keep history: a whole number of days from 1 to ${MAX_RETENTION_DAYS}` };
  }
  return { ok: days };
}
