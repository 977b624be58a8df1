// Alert rules as the settings form holds them, and the rule of what the server takes, per kind:
// a stop rule needs its duration, an offline rule may wait a little longer, an availability rule
// needs its percentage; every rule tells at least one channel, and escalation needs a delay and
// somewhere to go. The form keeps a field per kind, so switching kinds back and forth keeps what
// was typed. The server's own checks are in docs/ALERTS.md (crates/server/src/alerts/config.rs).

import type { AlertRule, AlertRuleBody, RuleKind } from './api';
import { formatDuration } from './format';

/** The longest wait a rule takes, in seconds (a week): longer is surely a typo. */
export const MAX_WAIT_S = 7 * 24 * 3600;

export const RULE_KINDS: { kind: RuleKind; label: string; what: string }[] = [
  { kind: 'stop_longer_than', label: 'Stop longer than', what: 'A machine has been stopped for longer than a time.' },
  { kind: 'logger_offline', label: 'Logger offline', what: 'A logger stopped reporting, so its machines show no signal.' },
  { kind: 'availability_below', label: 'Availability below', what: 'A machine’s availability fell under a percentage.' },
];

export interface RuleForm {
  name: string;
  kind: RuleKind;
  /** True: every machine, also ones added later (`asset_ids: null`). */
  allMachines: boolean;
  assetIds: number[];
  /** stop_longer_than: seconds (required). */
  stopS: string;
  /** logger_offline: extra seconds to wait (empty: none; the server takes 1 s and up). */
  offlineDelayS: string;
  /** availability_below: percent (required). */
  pct: string;
  /** stop_longer_than and availability_below; a logger_offline rule always sends false. */
  onlyInPlannedTime: boolean;
  channelIds: number[];
  escalate: boolean;
  escalateAfterS: string;
  escalateChannelIds: number[];
  notifyOnClear: boolean;
  enabled: boolean;
}

export function emptyRuleForm(): RuleForm {
  return {
    name: '',
    kind: 'stop_longer_than',
    allMachines: true,
    assetIds: [],
    stopS: '600',
    offlineDelayS: '',
    pct: '80',
    onlyInPlannedTime: true,
    channelIds: [],
    escalate: false,
    escalateAfterS: '1800',
    escalateChannelIds: [],
    notifyOnClear: true,
    enabled: true,
  };
}

/** A stored rule in the form, to edit it. */
export function ruleToForm(rule: AlertRule): RuleForm {
  const empty = emptyRuleForm();
  return {
    name: rule.name,
    kind: rule.kind,
    allMachines: rule.asset_ids === null,
    assetIds: rule.asset_ids ?? [],
    stopS: rule.kind === 'stop_longer_than' && rule.threshold_s !== null ? String(rule.threshold_s) : empty.stopS,
    offlineDelayS: rule.kind === 'logger_offline' && rule.threshold_s !== null ? String(rule.threshold_s) : '',
    pct: rule.kind === 'availability_below' && rule.threshold_pct !== null ? String(rule.threshold_pct) : empty.pct,
    onlyInPlannedTime: rule.only_in_planned_time,
    channelIds: rule.channel_ids,
    escalate: rule.escalate_after_s !== null,
    escalateAfterS: rule.escalate_after_s !== null ? String(rule.escalate_after_s) : empty.escalateAfterS,
    escalateChannelIds: rule.escalate_channel_ids,
    notifyOnClear: rule.notify_on_clear,
    enabled: rule.enabled,
  };
}

/** A whole number of seconds in `[min, max]`, or null. */
function seconds(text: string, min: number, max = MAX_WAIT_S): number | null {
  const t = text.trim();
  const n = Number(t);
  return /^\d+$/.test(t) && n >= min && n <= max ? n : null;
}

/**
 * The form as the API takes it (the rule without its id), or the message to show. Fields of
 * other kinds are left out (null), and so is a machine choice of "all".
 */
export function parseRuleForm(form: RuleForm): { ok: AlertRuleBody } | { error: string } {
  const name = form.name.trim();
  if (!name) return { error: 'A rule needs a name.' };
  if (name.length > 100) return { error: 'Name: at most 100 characters.' };
  if (!form.allMachines && form.assetIds.length === 0) return { error: 'Machines: choose at least one, or all machines.' };
  let threshold_s: number | null = null;
  let threshold_pct: number | null = null;
  switch (form.kind) {
    case 'stop_longer_than':
      threshold_s = seconds(form.stopS, 1);
      if (threshold_s === null) return { error: `Stopped longer than: a whole number of seconds from 1 to ${MAX_WAIT_S}.` };
      break;
    case 'logger_offline':
      if (form.offlineDelayS.trim() !== '') {
        threshold_s = seconds(form.offlineDelayS, 1);
        if (threshold_s === null) return { error: `Wait longer: a whole number of seconds from 1 to ${MAX_WAIT_S}, or empty.` };
      }
      break;
    case 'availability_below': {
      const t = form.pct.trim();
      const pct = Number(t);
      if (t === '' || !Number.isFinite(pct) || pct < 0 || pct > 100) return { error: 'Availability below: a percentage from 0 to 100.' };
      threshold_pct = pct;
      break;
    }
  }
  if (form.channelIds.length === 0) return { error: 'Send to: choose at least one channel.' };
  let escalate_after_s: number | null = null;
  let escalate_channel_ids: number[] = [];
  if (form.escalate) {
    escalate_after_s = seconds(form.escalateAfterS, 1);
    if (escalate_after_s === null) return { error: `Escalate after: a whole number of seconds from 1 to ${MAX_WAIT_S}.` };
    if (form.escalateChannelIds.length === 0) return { error: 'Escalate to: choose at least one channel, or do not escalate.' };
    escalate_channel_ids = unique(form.escalateChannelIds);
  }
  return {
    ok: {
      name,
      kind: form.kind,
      asset_ids: form.allMachines ? null : unique(form.assetIds),
      threshold_s,
      threshold_pct,
      only_in_planned_time: plannedTimeApplies(form.kind) && form.onlyInPlannedTime,
      channel_ids: unique(form.channelIds),
      escalate_after_s,
      escalate_channel_ids,
      notify_on_clear: form.notifyOnClear,
      enabled: form.enabled,
    },
  };
}

/** Whether "only in planned time" means anything for a kind (an offline logger is offline whenever). */
export function plannedTimeApplies(kind: RuleKind): boolean {
  return kind !== 'logger_offline';
}

function unique(ids: number[]): number[] {
  return [...new Set(ids)].sort((a, b) => a - b);
}

/** A stored rule as the API takes it back (a PUT is a full replace): to flip `enabled`, say. */
export function ruleBody(rule: AlertRule): AlertRuleBody {
  const { id: _id, ...body } = rule;
  return body;
}

/** What a rule watches for, in words: "Stopped longer than 10 min 00 s, in planned time". */
export function describeCondition(rule: Pick<AlertRule, 'kind' | 'threshold_s' | 'threshold_pct' | 'only_in_planned_time'>): string {
  let text: string;
  switch (rule.kind) {
    case 'stop_longer_than':
      text = `Stopped longer than ${formatDuration((rule.threshold_s ?? 0) * 1000)}`;
      break;
    case 'logger_offline':
      text = rule.threshold_s ? `Logger offline for ${formatDuration(rule.threshold_s * 1000)} more` : 'Logger offline';
      break;
    case 'availability_below':
      text = `Availability below ${rule.threshold_pct ?? 0} %`;
      break;
  }
  return rule.only_in_planned_time ? `${text}, in planned time` : text;
}

/** A typed number of seconds as a person reads it, for the hint beside the field ('' when it is none). */
export function secondsHint(text: string): string {
  const s = seconds(text, 0, Number.MAX_SAFE_INTEGER);
  return s === null ? '' : formatDuration(s * 1000);
}

/** Adds `id` to a checked list, or takes it out. */
export function toggle(ids: number[], id: number, on: boolean): number[] {
  return on ? unique([...ids, id]) : ids.filter((x) => x !== id);
}
