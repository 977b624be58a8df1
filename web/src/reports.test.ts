import { describe, expect, it } from 'vitest';
import type { Report } from './api';
import { SCHEDULES, emptyReportForm, lastSentText, parseReportForm, reportToForm, scheduleLabel, type ReportForm } from './reports';

function form(change: Partial<ReportForm>): ReportForm {
  return { ...emptyReportForm(), name: 'Shift summary', to: 'ada@plant.example', ...change };
}

function ok(f: ReportForm) {
  const parsed = parseReportForm(f);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed.ok;
}

function error(f: ReportForm): string {
  const parsed = parseReportForm(f);
  if (!('error' in parsed)) throw new Error('taken: ' + JSON.stringify(parsed.ok));
  return parsed.error;
}

const report: Report = {
  id: 4,
  name: 'Press line, daily',
  schedule: 'daily',
  to: ['ada@plant.example', 'bob@plant.example'],
  asset_ids: [7, 9],
  created_at: Date.UTC(2025, 10, 20, 8),
  last_period_end: null,
};

describe('parseReportForm', () => {
  it('sends the report as typed, trimmed', () => {
    expect(ok(form({ name: '  Shift summary ', schedule: 'weekly', to: ' ada@plant.example ' }))).toEqual({
      name: 'Shift summary',
      schedule: 'weekly',
      to: ['ada@plant.example'],
      asset_ids: null,
    });
  });

  it('needs a name of at most 100 characters', () => {
    expect(error(form({ name: '  ' }))).toBe('A report needs a name.');
    expect(error(form({ name: 'x'.repeat(101) }))).toBe('Name: at most 100 characters.');
    expect(ok(form({ name: 'x'.repeat(100) })).name).toHaveLength(100);
  });

  it.each([
    ['commas', 'ada@plant.example,bob@plant.example'],
    ['spaces', 'ada@plant.example   bob@plant.example'],
    ['lines', 'ada@plant.example\nbob@plant.example\n'],
    ['all of them, and a repeat', ' ada@plant.example,\n\tbob@plant.example , ada@plant.example'],
  ])('reads addresses separated by %s, each once, in the order typed', (_, to) => {
    expect(ok(form({ to })).to).toEqual(['ada@plant.example', 'bob@plant.example']);
  });

  it('names the address that is not one', () => {
    expect(error(form({ to: 'ada@plant.example, bob@plant' }))).toBe('Send to: “bob@plant” is not an email address.');
    expect(error(form({ to: 'ada@plant.example\nbob' }))).toBe('Send to: “bob” is not an email address.');
  });

  it('needs at least one address, and at most 50', () => {
    expect(error(form({ to: ' ,\n ' }))).toBe('Send to: at least one email address.');
    const many = (n: number) => Array.from({ length: n }, (_, i) => `p${i}@plant.example`).join('\n');
    expect(ok(form({ to: many(50) })).to).toHaveLength(50);
    expect(error(form({ to: many(51) }))).toBe('Send to: at most 50 addresses.');
  });

  it('sends all machines as null, and a choice as sorted ids, each once', () => {
    expect(ok(form({ allMachines: true, assetIds: [4] })).asset_ids).toBeNull();
    expect(ok(form({ allMachines: false, assetIds: [8, 4, 8] })).asset_ids).toEqual([4, 8]);
    expect(error(form({ allMachines: false, assetIds: [] }))).toBe('Machines: choose at least one, or all machines.');
  });
});

describe('reportToForm', () => {
  it('gives back the same report when saved unchanged', () => {
    const { id: _id, created_at: _created, last_period_end: _last, ...body } = report;
    expect(ok(reportToForm(report))).toEqual(body);
    const all: Report = { ...report, schedule: 'end_of_each_shift', asset_ids: null };
    expect(ok(reportToForm(all))).toMatchObject({ schedule: 'end_of_each_shift', asset_ids: null });
  });

  it('shows the addresses one after the other, and the machines chosen', () => {
    expect(reportToForm(report)).toEqual({
      name: 'Press line, daily',
      schedule: 'daily',
      to: 'ada@plant.example, bob@plant.example',
      allMachines: false,
      assetIds: [7, 9],
    });
  });
});

describe('words for the list', () => {
  it('names each schedule', () => {
    expect(scheduleLabel('end_of_each_shift')).toBe('At the end of each shift');
    expect(scheduleLabel('daily')).toBe('Daily');
    expect(scheduleLabel('weekly')).toBe('Weekly');
    expect(SCHEDULES.map((s) => s.schedule)).toEqual(['end_of_each_shift', 'daily', 'weekly']);
  });

  it('says when nothing was sent yet, else the end of the last period in the tenant’s zone', () => {
    expect(lastSentText(null, 'Europe/Berlin', 'en-GB')).toBe('Not yet');
    // Local midnight in Berlin is 23:00 UTC the day before.
    expect(lastSentText(Date.UTC(2025, 10, 24, 23), 'Europe/Berlin', 'en-GB')).toBe('Period to 25 Nov 2025, 00:00');
    expect(lastSentText(Date.UTC(2025, 10, 24, 23), 'UTC', 'en-GB')).toBe('Period to 24 Nov 2025, 23:00');
  });
});
