import { describe, expect, it } from 'vitest';
import { describeRetention, parseRetention } from './retention';

describe('describeRetention', () => {
  it.each([
    [null, 'forever'],
    [1, '1 day'],
    [90, '90 days'],
  ])('%s reads %s', (days, text) => {
    expect(describeRetention(days)).toBe(text);
  });
});

describe('parseRetention', () => {
  it('keeps all as null', () => {
    expect(parseRetention({ forever: true })).toEqual({ ok: null });
  });

  it.each([
    ['1', 1],
    [' 365 ', 365],
    ['36500', 36_500],
  ])('takes %j days', (days, n) => {
    expect(parseRetention({ forever: false, days })).toEqual({ ok: n });
  });

  it.each(['', '0', '-3', '1.5', '36501', '30d', 'abc'])('refuses %j with a message', (days) => {
    const parsed = parseRetention({ forever: false, days });
    expect(parsed).toHaveProperty('error');
    expect((parsed as { error: string }).error).toMatch(/1 to 36500/);
  });
});
