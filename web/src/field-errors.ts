// Which field of a form a refusal is about, so that its message shows at that field rather than
// only under the form. The server's messages name the field they are about, in the API's terms
// ("name must be 1 to 100 printable characters", "to: 1 to 50 email addresses", "url: …",
// "threshold_s must be between 1 and 604800 seconds"), and a few codes are about one field
// whatever they say (`invalid_email`, `invalid_url`). The forms' own checks name the field by
// its label ("URL: a full address, …", "Send to: at least one email address."). The shift
// calendar's refusals are richer and have their own reader, `shift-checks.ts`.

import { ApiError } from './api';

/** What to change, by field: a form's own keys (`name`, `url`, `shift.1.end`), each in words. */
export type FieldErrors = Record<string, string>;

/** A field of the API a form edits: the form's key for it, and its label (for the message). */
export interface ApiField {
  key: string;
  label: string;
}

export interface FieldMap {
  /** The API's field names (`threshold_s`) and the form fields they are. */
  fields?: Record<string, ApiField>;
  /** Error codes that are about one field whatever their message says (`invalid_email`: the addresses). */
  codes?: Record<string, string>;
  /** The form's own messages, by how they begin ("URL:", "A channel needs a name"): the field they are about. */
  labels?: Record<string, string>;
}

/** Its first letter in upper case. */
export function sentence(message: string): string {
  return message.charAt(0).toUpperCase() + message.slice(1);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The one of `names` that `message` mentions first, as a whole word (`channel_ids` is not in
 * `escalate_channel_ids`), or null. The first, because a message begins with the field it is
 * about and may name another later ("escalate_after_s and escalate_channel_ids go together").
 * A name that is also an English word (`name`, `to`) counts only where the message begins: in
 * "threshold_pct belongs to availability_below rules" it is just a word.
 */
export function firstNamed(message: string, names: readonly string[]): string | null {
  let best: { name: string; at: number } | null = null;
  for (const name of names) {
    const anywhere = name.includes('_');
    const m = new RegExp(`${anywhere ? '(^|[^A-Za-z0-9_])' : '^()'}${escape(name)}(?![A-Za-z0-9_])`).exec(message);
    if (!m) continue;
    const at = m.index + m[1]!.length;
    if (!best || at < best.at || (at === best.at && name.length > best.name.length)) best = { name, at };
  }
  return best?.name ?? null;
}

/**
 * The field messages of a failed save: a refusal of the server (an `ApiError`) or a message of
 * the form's own checks (an `Error`). Empty when neither names a field: the message then stays
 * only in the summary under the form.
 */
export function fieldErrorsOf(error: unknown, map: FieldMap): FieldErrors {
  if (error instanceof ApiError) {
    const fields = map.fields ?? {};
    const named = firstNamed(error.message, Object.keys(fields));
    const key = map.codes?.[error.code] ?? (named ? fields[named]!.key : null);
    if (!key) return {};
    // "threshold_s must be …" reads "Stopped longer than must be …" at its field; "to: 1 to 50 …" reads "Send to: 1 to 50 …".
    const field = named ? fields[named] : undefined;
    const text = field && field.key === key && error.message.startsWith(named!) ? field.label + error.message.slice(named!.length) : error.message;
    return { [key]: sentence(text) };
  }
  if (error instanceof Error) {
    for (const [start, key] of Object.entries(map.labels ?? {})) {
      if (!error.message.startsWith(start)) continue;
      // "URL: a full address, …" shows at the URL field as "A full address, …".
      const rest = start.endsWith(':') ? error.message.slice(start.length).trim() : error.message;
      return { [key]: sentence(rest) };
    }
  }
  return {};
}

/** `errors` without the messages about `keys` (the fields just edited). The same object when there are none. */
export function without(errors: FieldErrors, keys: readonly string[]): FieldErrors {
  if (!keys.some((k) => k in errors)) return errors;
  const rest = { ...errors };
  for (const k of keys) delete rest[k];
  return rest;
}

export function hasErrors(errors: FieldErrors): boolean {
  return Object.keys(errors).length > 0;
}
