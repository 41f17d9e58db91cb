import { describe, expect, it } from 'vitest';
import { meanStd, welchOneSided } from '../src/stats/welch.ts';

// Known answers from scipy.stats.ttest_ind(equal_var=False) / ttest_1samp, alternative='greater'.
describe('Welch t-test', () => {
  it('two samples: t, Welch-Satterthwaite df and one-sided p match scipy', () => {
    const r = welchOneSided([2, 4, 6, 8, 10], [1, 2, 3, 4, 5], 'greater');
    expect(r.t).toBeCloseTo(1.8973665961010275, 10);
    expect(r.df).toBeCloseTo(5.882352941176471, 10);
    expect(r.p).toBeCloseTo(0.05376559746531364, 8);
    // 'less' is the mirror image
    const l = welchOneSided([1, 2, 3, 4, 5], [2, 4, 6, 8, 10], 'less');
    expect(l.p).toBeCloseTo(0.05376559746531364, 8);
  });
  it('a margin shifts the tested difference', () => {
    const r = welchOneSided([2, 4, 6, 8, 10], [1, 2, 3, 4, 5], 'greater', 3);
    expect(r.t).toBeCloseTo(0, 10);
    expect(r.p).toBeCloseTo(0.5, 10);
  });
  it('against a constant bound it is the one-sample test', () => {
    const r = welchOneSided([0.9, 0.95, 0.97], [0.9], 'greater', 0, true);
    expect(r.t).toBeCloseTo(1.921537845661049, 10);
    expect(r.df).toBe(2);
    expect(r.p).toBeCloseTo(0.09730636687158517, 8);
  });
  it('n < 2 on a side gives no p-value; zero variance decides by the means', () => {
    expect(Number.isNaN(welchOneSided([1], [0, 0.1], 'greater').p)).toBe(true);
    expect(welchOneSided([1, 1], [0, 0], 'greater').p).toBe(0);
    expect(welchOneSided([0, 0], [1, 1], 'greater').p).toBe(1);
    expect(meanStd([1, 2, 3, NaN])).toEqual({ n: 3, mean: 2, std: 1 });
  });
});
