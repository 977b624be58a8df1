// Shift reports as the settings form holds them, and the rule of what the server takes: a name,
// when it is sent, at least one address (the same rule as an email channel's), and all machines
// or a choice of them. The server checks again (`invalid_report`); only it knows whether the
// plant has the shift calendar a report at the end of each shift needs (`no_shifts`).

import { parseAddresses } from './alert-channels';
import type { Report, ReportBody, Schedule } from './api';
import { formatDateTime } from './time';

export const SCHEDULES: { schedule: Schedule; label: string; what: string }[] = [
  { schedule: 'end_of_each_shift', label: 'At the end of each shift', what: 'One email per shift of the calendar (Shifts, above), when the shift ends.' },
  { schedule: 'daily', label: 'Daily', what: 'One email per day, at midnight, for the day that ended.' },
  { schedule: 'weekly', label: 'Weekly', what: 'One email per week, on Monday at 00:00, for the week that ended.' },
];

export function scheduleLabel(schedule: Schedule): string {
  return SCHEDULES.find((s) => s.schedule === schedule)?.label ?? schedule;
}

export interface ReportForm {
  name: string;
  schedule: Schedule;
  /** Email addresses, separated by commas, semicolons, spaces or lines. */
  to: string;
  /** True: every machine, also ones added later (`asset_ids: null`). */
  allMachines: boolean;
  assetIds: number[];
}

export function emptyReportForm(): ReportForm {
  return { name: '', schedule: 'end_of_each_shift', to: '', allMachines: true, assetIds: [] };
}

/** A stored report in the form, to edit it. */
export function reportToForm(report: Report): ReportForm {
  return {
    name: report.name,
    schedule: report.schedule,
    to: report.to.join(', '),
    allMachines: report.asset_ids === null,
    assetIds: report.asset_ids ?? [],
  };
}

/** The form as the API takes it, or the message to show. A machine choice of "all" is sent as null. */
export function parseReportForm(form: ReportForm): { ok: ReportBody } | { error: string } {
  const name = form.name.trim();
  if (!name) return { error: 'A report needs a name.' };
  if (name.length > 100) return { error: 'Name: at most 100 characters.' };
  const to = parseAddresses(form.to);
  if ('error' in to) return to;
  if (!form.allMachines && form.assetIds.length === 0) return { error: 'Machines: choose at least one, or all machines.' };
  return {
    ok: {
      name,
      schedule: form.schedule,
      to: to.ok,
      asset_ids: form.allMachines ? null : [...new Set(form.assetIds)].sort((a, b) => a - b),
    },
  };
}

/**
 * The last period sent, for the list: "Not yet", or the end of that period in the tenant's zone
 * ("Period to 25 Nov 2025, 00:00"). Its end, not its day: the schedule may have changed since.
 */
export function lastSentText(lastPeriodEnd: number | null, zone: string, locale?: string): string {
  return lastPeriodEnd === null ? 'Not yet' : `Period to ${formatDateTime(lastPeriodEnd, zone, locale)}`;
}
