import { describe, expect, it } from 'vitest';
import { channelToForm, describeTarget, emptyChannelForm, parseChannelForm, splitAddresses, type ChannelForm } from './alert-channels';

function form(change: Partial<ChannelForm>): ChannelForm {
  return { ...emptyChannelForm(), name: 'Shift lead', ...change };
}

describe('parseChannelForm', () => {
  it('sends a webhook, Slack or Teams channel with its URL and no addresses', () => {
    expect(parseChannelForm(form({ kind: 'webhook', url: ' http://10.0.0.5:8080/hook ', to: 'a@b.example' }))).toEqual({
      ok: { name: 'Shift lead', kind: 'webhook', url: 'http://10.0.0.5:8080/hook' },
    });
    expect(parseChannelForm(form({ kind: 'slack', url: 'https://hooks.slack.com/services/T/B/x' }))).toEqual({
      ok: { name: 'Shift lead', kind: 'slack', url: 'https://hooks.slack.com/services/T/B/x' },
    });
  });

  it('refuses a missing or wrong URL', () => {
    expect(parseChannelForm(form({ url: '' }))).toEqual({ error: expect.stringMatching(/^URL: a full address/) });
    expect(parseChannelForm(form({ url: 'hooks.example.com/x' }))).toEqual({ error: expect.stringMatching(/^URL: a full address/) });
    expect(parseChannelForm(form({ url: 'ftp://example.com/x' }))).toEqual({ error: 'URL: it starts with http:// or https://.' });
    expect(parseChannelForm(form({ kind: 'teams', url: 'http://example.webhook.office.com/x' }))).toEqual({
      error: 'URL: Microsoft Teams webhooks start with https://.',
    });
  });

  it('sends an email channel with its addresses, each once, and no URL', () => {
    expect(parseChannelForm(form({ kind: 'email', url: 'https://x.example', to: 'ada@plant.example, bob@plant.example;\nada@plant.example' }))).toEqual({
      ok: { name: 'Shift lead', kind: 'email', to: ['ada@plant.example', 'bob@plant.example'] },
    });
    expect(parseChannelForm(form({ kind: 'email', to: ' , ' }))).toEqual({ error: 'Send to: at least one email address.' });
    expect(parseChannelForm(form({ kind: 'email', to: 'ada@plant.example, bob' }))).toEqual({ error: 'Send to: “bob” is not an email address.' });
  });

  it('keeps to what the server takes: 50 addresses, 2048 characters of URL', () => {
    const many = Array.from({ length: 51 }, (_, i) => `p${i}@plant.example`).join(', ');
    expect(parseChannelForm(form({ kind: 'email', to: many }))).toEqual({ error: 'Send to: at most 50 addresses.' });
    expect(parseChannelForm(form({ url: `https://x.example/${'a'.repeat(2048)}` }))).toEqual({ error: 'URL: at most 2048 characters.' });
  });

  it('needs a name', () => {
    expect(parseChannelForm(form({ name: ' ', url: 'https://x.example' }))).toEqual({ error: 'A channel needs a name.' });
  });
});

describe('channel forms and lists', () => {
  it('edits a stored channel as typed', () => {
    expect(channelToForm({ id: 1, name: 'Mail', kind: 'email', url: null, to: ['a@b.example', 'c@d.example'], secret: null })).toEqual({
      name: 'Mail',
      kind: 'email',
      url: '',
      to: 'a@b.example, c@d.example',
    });
  });

  it('splits addresses on commas, semicolons and white space', () => {
    expect(splitAddresses('a@x.example;b@x.example\n c@x.example ,')).toEqual(['a@x.example', 'b@x.example', 'c@x.example']);
  });

  it('shows where a channel sends, without the secret path of a Slack or Teams hook', () => {
    expect(describeTarget({ kind: 'webhook', url: 'https://mes.plant.example/hooks/assetlog', to: [] })).toBe('https://mes.plant.example/hooks/assetlog');
    expect(describeTarget({ kind: 'slack', url: 'https://hooks.slack.com/services/T0/B0/secret', to: [] })).toBe('hooks.slack.com/…');
    expect(describeTarget({ kind: 'email', url: null, to: ['a@x.example', 'b@x.example'] })).toBe('a@x.example, b@x.example');
  });
});
