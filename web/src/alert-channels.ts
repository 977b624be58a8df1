// Alert channels as the settings form holds them, and the rule of what the server takes: a
// webhook, Slack or Teams channel needs its URL, an email channel its addresses.

import type { AlertChannel, AlertChannelBody, ChannelKind } from './api';

export const CHANNEL_KINDS: { kind: ChannelKind; label: string }[] = [
  { kind: 'webhook', label: 'Webhook (signed JSON)' },
  { kind: 'slack', label: 'Slack' },
  { kind: 'teams', label: 'Microsoft Teams' },
  { kind: 'email', label: 'Email' },
];

export function kindLabel(kind: ChannelKind): string {
  return CHANNEL_KINDS.find((k) => k.kind === kind)?.label ?? kind;
}

export interface ChannelForm {
  name: string;
  kind: ChannelKind;
  url: string;
  /** Email addresses, separated by commas, semicolons, spaces or lines. */
  to: string;
}

export function emptyChannelForm(): ChannelForm {
  return { name: '', kind: 'webhook', url: '', to: '' };
}

export function channelToForm(c: AlertChannel): ChannelForm {
  return { name: c.name, kind: c.kind, url: c.url ?? '', to: c.to.join(', ') };
}

/** The addresses typed in, each once, in the order typed. */
export function splitAddresses(text: string): string[] {
  return [...new Set(text.split(/[\s,;]+/).filter((a) => a !== ''))];
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** What the server takes (docs/ALERTS.md). */
export const MAX_RECIPIENTS = 50;
export const MAX_URL = 2048;

/**
 * The addresses of a "Send to" field (an email channel's, a report's), or the message to show:
 * at least one, at most `MAX_RECIPIENTS`, each an email address.
 */
export function parseAddresses(text: string): { ok: string[] } | { error: string } {
  const to = splitAddresses(text);
  if (to.length === 0) return { error: 'Send to: at least one email address.' };
  if (to.length > MAX_RECIPIENTS) return { error: `Send to: at most ${MAX_RECIPIENTS} addresses.` };
  const wrong = to.find((a) => !EMAIL.test(a));
  if (wrong) return { error: `Send to: “${wrong}” is not an email address.` };
  return { ok: to };
}

/** The form as the API takes it, or the message to show. */
export function parseChannelForm(form: ChannelForm): { ok: AlertChannelBody } | { error: string } {
  const name = form.name.trim();
  if (!name) return { error: 'A channel needs a name.' };
  if (name.length > 100) return { error: 'Name: at most 100 characters.' };
  if (form.kind === 'email') {
    const to = parseAddresses(form.to);
    if ('error' in to) return to;
    return { ok: { name, kind: 'email', to: to.ok } };
  }
  const text = form.url.trim();
  if (text.length > MAX_URL) return { error: `URL: at most ${MAX_URL} characters.` };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { error: 'URL: a full address, such as https://example.com/hook.' };
  }
  // Slack's and Teams' incoming webhooks are HTTPS; a plain webhook may be on the plant's network.
  const https = form.kind !== 'webhook';
  if (url.protocol !== 'https:' && (https || url.protocol !== 'http:')) {
    return { error: https ? `URL: ${kindLabel(form.kind)} webhooks start with https://.` : 'URL: it starts with http:// or https://.' };
  }
  return { ok: { name, kind: form.kind, url: text } };
}

/**
 * Where a channel sends, for the list. The path of a Slack or Teams webhook is its password, so
 * the list shows only the host; the edit form shows it all.
 */
export function describeTarget(c: Pick<AlertChannel, 'kind' | 'url' | 'to'>): string {
  if (c.kind === 'email') return c.to.join(', ');
  if (!c.url) return '';
  if (c.kind === 'webhook') return c.url;
  try {
    return `${new URL(c.url).host}/…`;
  } catch {
    return '…';
  }
}
