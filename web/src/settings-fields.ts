// The fields of the settings forms that refusals name: for each form, the API's field names
// (as the server's messages spell them, docs/API.md and docs/ALERTS.md) with the form's key and
// label, the codes that are about one field whatever they say, and how the form's own checks
// (`parseChannelForm`, `parseRuleForm`, `parseReportForm`) begin their messages.

import type { RuleKind } from './api';
import type { FieldMap } from './field-errors';

/** A downtime reason: a refusal's field names are the form's; one that exists already is about its name. */
export const REASON_FIELDS: FieldMap = {
  fields: { category: { key: 'category', label: 'category' }, name: { key: 'name', label: 'name' } },
  codes: { conflict: 'name' },
};

/** An alert channel (`ChannelForm`'s keys). */
export const CHANNEL_FIELDS: FieldMap = {
  fields: {
    name: { key: 'name', label: 'name' },
    kind: { key: 'kind', label: 'kind' },
    url: { key: 'url', label: 'URL' },
    to: { key: 'to', label: 'send to' },
  },
  // An address the server does not take; a receiver it refuses; email without the server's mail settings.
  codes: { invalid_email: 'to', invalid_url: 'url', private_address: 'url', smtp_not_configured: 'kind' },
  labels: { 'A channel needs a name': 'name', 'Name:': 'name', 'URL:': 'url', 'Send to:': 'to' },
};

/** An alert rule (`RuleForm`'s keys): `threshold_s` is the field of the kind being edited. */
export function ruleFields(kind: RuleKind): FieldMap {
  return {
    fields: {
      name: { key: 'name', label: 'name' },
      kind: { key: 'kind', label: 'condition' },
      threshold_s: kind === 'logger_offline' ? { key: 'offlineDelayS', label: 'wait longer' } : { key: 'stopS', label: 'stopped longer than' },
      threshold_pct: { key: 'pct', label: 'availability below' },
      only_in_planned_time: { key: 'onlyInPlannedTime', label: 'only in planned time' },
      asset_ids: { key: 'assetIds', label: 'machines' },
      channel_ids: { key: 'channelIds', label: 'send to' },
      escalate_after_s: { key: 'escalateAfterS', label: 'escalate after' },
      escalate_channel_ids: { key: 'escalateChannelIds', label: 'escalate to' },
    },
    labels: {
      'A rule needs a name': 'name',
      'Name:': 'name',
      'Machines:': 'assetIds',
      'Stopped longer than:': 'stopS',
      'Wait longer:': 'offlineDelayS',
      'Availability below:': 'pct',
      'Send to:': 'channelIds',
      'Escalate after:': 'escalateAfterS',
      'Escalate to:': 'escalateChannelIds',
    },
  };
}

/** A report (`ReportForm`'s keys). */
export const REPORT_FIELDS: FieldMap = {
  fields: {
    name: { key: 'name', label: 'name' },
    schedule: { key: 'schedule', label: 'schedule' },
    to: { key: 'to', label: 'send to' },
    asset_ids: { key: 'assetIds', label: 'machines' },
  },
  // `no_shifts`: a report at the end of each shift needs a shift calendar.
  codes: { invalid_email: 'to', no_shifts: 'schedule' },
  labels: { 'A report needs a name': 'name', 'Name:': 'name', 'Send to:': 'to', 'Machines:': 'assetIds' },
};
