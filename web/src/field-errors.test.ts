import { describe, expect, it } from 'vitest';
import { ApiError } from './api';
import { fieldErrorsOf, firstNamed, without } from './field-errors';
import { CHANNEL_FIELDS, REASON_FIELDS, REPORT_FIELDS, ruleFields } from './settings-fields';

const refused = (code: string, message: string) => new ApiError(400, code, message);

describe('firstNamed', () => {
  it('finds the field a message begins with, as a whole word', () => {
    expect(firstNamed('name must be 1 to 100 printable characters', ['name', 'to'])).toBe('name');
    expect(firstNamed('to: 1 to 50 email addresses', ['name', 'to'])).toBe('to');
    expect(firstNamed('channel_ids: no channel 4 in this tenant', ['channel_ids', 'escalate_channel_ids'])).toBe('channel_ids');
    expect(firstNamed('escalate_channel_ids: no channel 4 in this tenant', ['channel_ids', 'escalate_channel_ids'])).toBe('escalate_channel_ids');
  });

  it('takes the first of two fields named, and a plain word only at the start', () => {
    expect(firstNamed('escalate_after_s and escalate_channel_ids go together', ['escalate_channel_ids', 'escalate_after_s'])).toBe('escalate_after_s');
    expect(firstNamed('a stop_longer_than rule needs threshold_s', ['threshold_s', 'name'])).toBe('threshold_s');
    // "to" here is a word, not the field.
    expect(firstNamed('threshold_pct belongs to availability_below rules', ['to', 'name'])).toBeNull();
    expect(firstNamed('reports are sent by email: they need the server started with --smtp-url', ['name', 'to', 'schedule'])).toBeNull();
  });
});

describe('fieldErrorsOf', () => {
  it('puts a reason refusal at the field it names, in words', () => {
    expect(fieldErrorsOf(refused('invalid_field', 'category must be 1 to 100 printable characters'), REASON_FIELDS)).toEqual({
      category: 'Category must be 1 to 100 printable characters',
    });
    expect(fieldErrorsOf(new ApiError(409, 'conflict', 'that reason exists already in that category'), REASON_FIELDS)).toEqual({
      name: 'That reason exists already in that category',
    });
  });

  it('puts a channel refusal at its URL or its addresses, by code or by name', () => {
    expect(fieldErrorsOf(refused('invalid_url', 'url must be http:// or https://'), CHANNEL_FIELDS)).toEqual({ url: 'URL must be http:// or https://' });
    expect(fieldErrorsOf(refused('private_address', '127.0.0.1 is a loopback, link-local or private address: …'), CHANNEL_FIELDS)).toEqual({
      url: '127.0.0.1 is a loopback, link-local or private address: …',
    });
    expect(fieldErrorsOf(refused('invalid_channel', 'to: 1 to 50 email addresses'), CHANNEL_FIELDS)).toEqual({ to: 'Send to: 1 to 50 email addresses' });
    expect(fieldErrorsOf(refused('invalid_email', 'that is not an email address'), CHANNEL_FIELDS)).toEqual({ to: 'That is not an email address' });
    expect(fieldErrorsOf(refused('smtp_not_configured', 'email channels need the server started with --smtp-url'), CHANNEL_FIELDS)).toEqual({
      kind: 'Email channels need the server started with --smtp-url',
    });
  });

  it('reads the form’s own messages by the label they begin with', () => {
    expect(fieldErrorsOf(new Error('URL: a full address, such as https://example.com/hook.'), CHANNEL_FIELDS)).toEqual({
      url: 'A full address, such as https://example.com/hook.',
    });
    expect(fieldErrorsOf(new Error('A channel needs a name.'), CHANNEL_FIELDS)).toEqual({ name: 'A channel needs a name.' });
    expect(fieldErrorsOf(new Error('Send to: “x” is not an email address.'), REPORT_FIELDS)).toEqual({ to: '“x” is not an email address.' });
    expect(fieldErrorsOf(new Error('Escalate to: choose at least one channel, or do not escalate.'), ruleFields('stop_longer_than'))).toEqual({
      escalateChannelIds: 'Choose at least one channel, or do not escalate.',
    });
  });

  it('puts a rule’s threshold at the field of its kind', () => {
    const message = 'threshold_s must be between 1 and 604800 seconds';
    expect(fieldErrorsOf(refused('invalid_rule', message), ruleFields('stop_longer_than'))).toEqual({
      stopS: 'Stopped longer than must be between 1 and 604800 seconds',
    });
    expect(fieldErrorsOf(refused('invalid_rule', message), ruleFields('logger_offline'))).toEqual({
      offlineDelayS: 'Wait longer must be between 1 and 604800 seconds',
    });
    expect(fieldErrorsOf(refused('invalid_rule', 'only_in_planned_time applies to stop_longer_than rules'), ruleFields('availability_below'))).toEqual({
      onlyInPlannedTime: 'Only in planned time applies to stop_longer_than rules',
    });
    expect(fieldErrorsOf(refused('invalid_rule', 'asset_ids: no machine 9 in this tenant'), ruleFields('stop_longer_than'))).toEqual({
      assetIds: 'Machines: no machine 9 in this tenant',
    });
  });

  it('puts a report that needs shifts at its schedule', () => {
    expect(fieldErrorsOf(refused('no_shifts', 'the tenant has no shift calendar: set the shifts first, or send daily'), REPORT_FIELDS)).toEqual({
      schedule: 'The tenant has no shift calendar: set the shifts first, or send daily',
    });
  });

  it('leaves a message that names no field to the summary', () => {
    expect(fieldErrorsOf(refused('smtp_not_configured', 'reports are sent by email: they need the server started with --smtp-url'), REPORT_FIELDS)).toEqual({});
    expect(fieldErrorsOf(new Error('Failed to fetch'), CHANNEL_FIELDS)).toEqual({});
    expect(fieldErrorsOf('odd', CHANNEL_FIELDS)).toEqual({});
  });
});

describe('without', () => {
  it('drops the messages of the fields edited, and keeps the object when there are none', () => {
    const errors = { name: 'a', url: 'b' };
    expect(without(errors, ['url'])).toEqual({ name: 'a' });
    expect(without(errors, ['to'])).toBe(errors);
  });
});
