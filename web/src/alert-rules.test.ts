import { describe, expect, it } from 'vitest';
import type { AlertRule } from './api';
import { MAX_WAIT_S, describeCondition, emptyRuleForm, parseRuleForm, ruleBody, ruleToForm, secondsHint, toggle, type RuleForm } from './alert-rules';

function form(change: Partial<RuleForm>): RuleForm {
  return { ...emptyRuleForm(), name: 'Long stop', channelIds: [1], ...change };
}

function ok(f: RuleForm) {
  const parsed = parseRuleForm(f);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed.ok;
}

function error(f: RuleForm): string {
  const parsed = parseRuleForm(f);
  if (!('error' in parsed)) throw new Error('taken: ' + JSON.stringify(parsed.ok));
  return parsed.error;
}

const rule: AlertRule = {
  id: 3,
  name: 'Press stopped',
  kind: 'stop_longer_than',
  asset_ids: [7, 8],
  threshold_s: 900,
  threshold_pct: null,
  only_in_planned_time: false,
  channel_ids: [1],
  escalate_after_s: 3600,
  escalate_channel_ids: [2],
  notify_on_clear: true,
  enabled: true,
};

describe('parseRuleForm per kind', () => {
  it('stop longer than: the seconds, no percentage', () => {
    expect(ok(form({ stopS: ' 600 ', pct: '50', offlineDelayS: '30' }))).toMatchObject({
      kind: 'stop_longer_than',
      threshold_s: 600,
      threshold_pct: null,
    });
  });

  it.each(['', '0', '1.5', '-5', 'ten', String(MAX_WAIT_S + 1)])('stop longer than: refuses %j seconds', (stopS) => {
    expect(error(form({ stopS }))).toMatch(/^Stopped longer than: a whole number of seconds from 1/);
  });

  it('logger offline: the extra delay is optional, from 1 s; never only in planned time', () => {
    expect(ok(form({ kind: 'logger_offline', offlineDelayS: '' }))).toMatchObject({ threshold_s: null, threshold_pct: null });
    expect(ok(form({ kind: 'logger_offline', offlineDelayS: '1' }))).toMatchObject({ threshold_s: 1 });
    expect(ok(form({ kind: 'logger_offline', offlineDelayS: '120', stopS: '600' }))).toMatchObject({ threshold_s: 120 });
    for (const offlineDelayS of ['0', '2 min']) expect(error(form({ kind: 'logger_offline', offlineDelayS }))).toMatch(/^Wait longer: a whole number of seconds from 1/);
    // The server refuses only_in_planned_time on anything but a stop rule.
    expect(ok(form({ kind: 'logger_offline', onlyInPlannedTime: true })).only_in_planned_time).toBe(false);
    expect(ok(form({ kind: 'stop_longer_than', onlyInPlannedTime: true })).only_in_planned_time).toBe(true);
  });

  it('availability below: a percentage from 0 to 100, decimals too, no seconds', () => {
    expect(ok(form({ kind: 'availability_below', pct: '85.5' }))).toMatchObject({ threshold_pct: 85.5, threshold_s: null });
    expect(ok(form({ kind: 'availability_below', pct: '0' }))).toMatchObject({ threshold_pct: 0 });
    expect(ok(form({ kind: 'availability_below', pct: '100' }))).toMatchObject({ threshold_pct: 100 });
    for (const pct of ['', '-1', '100.1', 'x']) expect(error(form({ kind: 'availability_below', pct }))).toMatch(/0 to 100/);
  });
});

describe('parseRuleForm, what every kind has', () => {
  it('needs a name, trimmed', () => {
    expect(error(form({ name: '  ' }))).toBe('A rule needs a name.');
    expect(ok(form({ name: '  Long stop  ' })).name).toBe('Long stop');
    expect(error(form({ name: 'x'.repeat(101) }))).toMatch(/100 characters/);
  });

  it('sends all machines as null, and a choice as sorted ids, each once', () => {
    expect(ok(form({ allMachines: true, assetIds: [4] })).asset_ids).toBeNull();
    expect(ok(form({ allMachines: false, assetIds: [8, 4, 8] })).asset_ids).toEqual([4, 8]);
    expect(error(form({ allMachines: false, assetIds: [] }))).toMatch(/^Machines/);
  });

  it('escalates only when asked, and then needs a delay and a channel', () => {
    const plain = ok(form({ escalate: false, escalateAfterS: '60', escalateChannelIds: [2] }));
    expect(plain).toMatchObject({ escalate_after_s: null, escalate_channel_ids: [] });
    expect(ok(form({ escalate: true, escalateAfterS: '1800', escalateChannelIds: [3, 2] }))).toMatchObject({
      escalate_after_s: 1800,
      escalate_channel_ids: [2, 3],
    });
    expect(error(form({ escalate: true, escalateAfterS: '0', escalateChannelIds: [2] }))).toMatch(/^Escalate after/);
    expect(error(form({ escalate: true, escalateAfterS: '60', escalateChannelIds: [] }))).toMatch(/^Escalate to/);
  });

  it('needs at least one channel to tell, each once', () => {
    expect(error(form({ channelIds: [] }))).toBe('Send to: choose at least one channel.');
    expect(ok(form({ channelIds: [2, 1, 2] })).channel_ids).toEqual([1, 2]);
  });

  it('sends the flags as they are', () => {
    expect(ok(form({ notifyOnClear: false, enabled: false, onlyInPlannedTime: false }))).toMatchObject({
      notify_on_clear: false,
      enabled: false,
      only_in_planned_time: false,
    });
  });
});

describe('ruleToForm', () => {
  it('gives back the same rule when saved unchanged', () => {
    expect(ok(ruleToForm(rule))).toEqual(ruleBody(rule));
    const offline: AlertRule = { ...rule, kind: 'logger_offline', asset_ids: null, threshold_s: null, escalate_after_s: null, escalate_channel_ids: [], only_in_planned_time: false };
    expect(ok(ruleToForm(offline))).toEqual(ruleBody(offline));
    const availability: AlertRule = { ...rule, kind: 'availability_below', threshold_s: null, threshold_pct: 75 };
    expect(ok(ruleToForm(availability))).toEqual(ruleBody(availability));
  });

  it('puts the threshold in the field of its kind, and defaults in the others', () => {
    const f = ruleToForm({ ...rule, kind: 'logger_offline', threshold_s: 300 });
    expect(f.offlineDelayS).toBe('300');
    expect(f.stopS).toBe(emptyRuleForm().stopS);
    expect(ruleToForm(rule).offlineDelayS).toBe('');
  });
});

describe('ruleBody', () => {
  it('is the rule without its id', () => {
    const body = ruleBody(rule);
    expect(body).not.toHaveProperty('id');
    expect({ ...body, id: 3 }).toEqual(rule);
  });
});

describe('describeCondition', () => {
  it.each([
    [{ kind: 'stop_longer_than', threshold_s: 600, threshold_pct: null, only_in_planned_time: true }, 'Stopped longer than 10 min 00 s, in planned time'],
    [{ kind: 'logger_offline', threshold_s: null, threshold_pct: null, only_in_planned_time: false }, 'Logger offline'],
    [{ kind: 'logger_offline', threshold_s: 120, threshold_pct: null, only_in_planned_time: false }, 'Logger offline for 2 min 00 s more'],
    [{ kind: 'availability_below', threshold_s: null, threshold_pct: 85, only_in_planned_time: false }, 'Availability below 85 %'],
  ] as const)('%j reads %s', (r, text) => {
    expect(describeCondition(r)).toBe(text);
  });
});

describe('helpers', () => {
  it('reads typed seconds for the hint', () => {
    expect(secondsHint('5400')).toBe('1 h 30 min');
    expect(secondsHint('abc')).toBe('');
  });

  it('checks and unchecks ids', () => {
    expect(toggle([3, 1], 2, true)).toEqual([1, 2, 3]);
    expect(toggle([1, 2], 2, true)).toEqual([1, 2]);
    expect(toggle([1, 2], 1, false)).toEqual([2]);
  });
});
