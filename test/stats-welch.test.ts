import { describe, expect, it } from 'vitest';
import { holm } from '../src/stats/holm.ts';
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

// 95% CI of the difference: scipy.stats.ttest_ind(equal_var=False).confidence_interval(0.95)
// and ttest_1samp(...).confidence_interval(0.95) minus the bound.
describe('effect and confidence interval', () => {
  it('Welch: difference of means with the 95% CI scipy gives', () => {
    const r = welchOneSided([2, 4, 6, 8, 10], [1, 2, 3, 4, 5], 'greater');
    expect(r.diff).toBe(3);
    expect(r.ci[0]).toBeCloseTo(-0.887741643736975, 8);
    expect(r.ci[1]).toBeCloseTo(6.887741643736975, 8);
  });
  it('one sample against a bound: the CI of mean - bound', () => {
    const r = welchOneSided([0.9, 0.95, 0.97], [0.9], 'greater', 0, true);
    expect(r.ci[0]).toBeCloseTo(0.8504331410497041 - 0.9, 8);
    expect(r.ci[1]).toBeCloseTo(1.029566858950296 - 0.9, 8);
  });
  it('a variance floor replaces a smaller sample variance (t, df, p, CI as scipy computes them by hand)', () => {
    // b = [3, 3, 3] has zero variance; with a floor of 4 per value: t 1.6432, df 5.882, p 0.0762.
    const r = welchOneSided([2, 4, 6, 8, 10], [3, 3, 3], 'greater', 0, false, { b: 4 });
    expect(r.t).toBeCloseTo(1.6431676725154984, 8);
    expect(r.df).toBeCloseTo(5.882352941176469, 8);
    expect(r.p).toBeCloseTo(0.07622127575963848, 8);
    expect(r.ci[0]).toBeCloseTo(-1.4891773691025216, 8);
    expect(r.b.std).toBe(0); // the reported std is the sample's
    // A floor below the sample variance changes nothing.
    expect(welchOneSided([2, 4, 6, 8, 10], [1, 2, 3, 4, 5], 'greater', 0, false, { a: 1e-9, b: 1e-9 }).p).toBeCloseTo(
      0.05376559746531364,
      8,
    );
  });
});

// Holm (1979) worked by hand: sort, multiply the k-th smallest by m - k + 1, make monotone, cap at 1.
describe('Holm correction', () => {
  it('adjusts in the input order', () => {
    const a = holm([0.01, 0.04, 0.03, 0.005]);
    [0.03, 0.06, 0.06, 0.02].forEach((v, i) => expect(a[i]).toBeCloseTo(v, 12));
  });
  it('NaN (untested) is not part of the family; adjusted values are capped at 1', () => {
    const a = holm([NaN, 0.2, 0.01]);
    expect(a[0]).toBeNaN();
    expect(a[1]).toBeCloseTo(0.2, 12);
    expect(a[2]).toBeCloseTo(0.02, 12);
    expect(holm([0.6, 0.7])).toEqual([1, 1]);
    expect(holm([0.015])).toEqual([0.015]);
  });
});
