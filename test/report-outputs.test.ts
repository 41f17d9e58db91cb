// Paper-grade outputs: the metric registry, figures (bands, colours, dashes, axes, chance line),
// report directories that never overwrite each other, tidy CSV, claims and the CLI's errors.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildReport, writeReport } from '../src/commands/report.ts';
import { axisTitle, directionOf, formatValue, requireMetric, resolveMetric, REGISTRY } from '../src/metrics/names.ts';
import { claimsFromJson } from '../src/report/claims.ts';
import { aggregate, fittedScale, reportFigures, svgToPng, figureSvg, familyColours } from '../src/report/plots.ts';
import { renderMarkdown, renderRunsCsv } from '../src/report/render.ts';
import { Resvg } from '@resvg/resvg-js';
import { lmSweep, mqarSweep, writeSweep } from './fixtures/report/sweep.ts';

const root = path.resolve(__dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-outputs-'));
const lm = lmSweep(tmp);
const mqar = mqarSweep(tmp);

describe('metric registry', () => {
  it('resolves split, length and eval-set forms and rejects unknown ones with did-you-mean', () => {
    expect(resolveMetric('valid_bpb')?.def.name).toBe('bpb');
    expect(resolveMetric('decode_ms_per_token@256')?.length).toBe(256);
    expect(resolveMetric('test_accuracy@N=64')?.evalSet).toBe('N=64');
    expect(resolveMetric('accuracy')?.def.direction).toBe('higher');
    expect(resolveMetric('bpb')).toBeUndefined(); // needs a split
    expect(resolveMetric('params@256')).toBeUndefined();
    expect(() => requireMetric('valid_bpc', '--metric')).toThrow(/--metric: unknown metric "valid_bpc" \(did you mean "valid_bpb"\?\)/);
    expect(directionOf('train_tokens_per_s')).toBe(-1);
    expect(directionOf('decode_ms_per_token@64')).toBe(1);
    expect(directionOf('params')).toBe(0);
    expect(new Set(REGISTRY.map((m) => m.name)).size).toBe(REGISTRY.length);
  });
  it('prints decimals per metric and titles with units', () => {
    expect(formatValue('valid_bpb', 3)).toBe('3.000');
    expect(formatValue('decode_ms_per_token@64', 0.4567)).toBe('0.46');
    expect(formatValue('params', 41_123)).toBe('41.1k');
    expect(formatValue('mfu', 0.01234)).toBe('1.23%');
    expect(axisTitle('valid_bpb')).toBe('valid bits per byte (bits/byte)');
    expect(axisTitle('decode_ms_per_token@256')).toBe('decode latency @ L=256 (ms)');
  });
});

describe('figures', () => {
  it('aggregate gives the seed mean with a std or a 95% t band', () => {
    const pts = [1, 3].map((y) => ({ family: 'a', series: 's', x: 1, y }));
    const [s] = aggregate(pts, 'std');
    expect(s!.mean).toBe(2);
    expect(s!.hi - s!.mean).toBeCloseTo(Math.SQRT2, 12);
    const [c] = aggregate(pts, 'ci95');
    expect(c!.hi - c!.mean).toBeCloseTo((12.706204736 * Math.SQRT2) / Math.SQRT2, 5); // t_{0.975,1} s / sqrt(2)
  });
  it('log scale only past a decade, domain fitted to the data', () => {
    expect(fittedScale([64, 128])).toMatchObject({ type: 'linear' });
    const lin = fittedScale([64, 128]);
    expect(lin.domain[0]).toBeGreaterThan(50);
    expect(lin.domain[1]).toBeLessThan(140);
    expect(fittedScale([16, 256])).toEqual({ type: 'log', domain: [16, 256], nice: false });
  });
  it('the recall figures: faceted by length, chance line, fixed family colours, units on the axes', async () => {
    const r = buildReport([mqar], {});
    const figs = reportFigures({ groups: r.groups, groupBy: r.groupBy, band: 'std', chance: 1 / 16 });
    const names = figs.map((f) => f.name);
    expect(names).toEqual(expect.arrayContaining(['accuracy_vs_width', 'accuracy_vs_test_length']));
    const acc = figs.find((f) => f.name === 'accuracy_vs_width')!;
    const spec = JSON.stringify(acc.spec);
    expect(spec).toContain('"facet":{"column":{"field":"facet"');
    expect(spec).toContain('"chance":0.0625');
    expect(spec).toContain('band / bar: ± 1 sample std');
    expect(spec).toContain('"title":"model width d"');
    const colours = familyColours(r.groups);
    // Every figure maps each family to the same colour.
    for (const f of figs) expect(JSON.stringify(f.spec)).toContain(JSON.stringify({ domain: colours.domain, range: colours.range }));
    const svg = await figureSvg(acc);
    expect(svg).toContain('recall accuracy'.replace('recall ', '')); // the y title
    expect(svg).toContain('chance');
    for (const fam of ['mamba', 'retnet', 'transformer']) expect(svg).toContain(`>${fam}</text>`); // legend labels untruncated
  });
  it('long case labels are never truncated in legends', async () => {
    const label = 'decay-ablation-with-a-long-descriptive-name';
    const runs = [0, 1].flatMap((seed) =>
      [16, 64].map((L) => ({
        case: label,
        axes: { 'model.mixer.decay': 'gla', seed },
        config: { seed, model: { preset: 'selret' }, task: { kind: 'lm' } },
        summary: { [`decode_ms_per_token@${L}`]: L / 10 + seed, valid_bpb: 3 },
      })),
    );
    const sweep = writeSweep(
      'cases',
      [
        { ...runs[0]!, summary: { ...runs[0]!.summary, ...runs[1]!.summary } },
        { ...runs[2]!, summary: { ...runs[2]!.summary, ...runs[3]!.summary } },
      ],
      tmp,
    );
    const r = buildReport([sweep], {});
    const fig = reportFigures({ groups: r.groups, groupBy: r.groupBy, band: 'std' }).find((f) => f.name === 'decode_latency_vs_length')!;
    const svg = await figureSvg(fig);
    expect(svg).toContain(`>${label}</text>`);
    expect(svg).not.toContain('…');
  });

  it('loss curves tell splits apart by dash with a legend that draws the dash; PNG is not blank', async () => {
    const r = buildReport([lm], {});
    const figs = reportFigures({ groups: r.groups, groupBy: r.groupBy, band: 'std' });
    const loss = figs.find((f) => f.name === 'loss_curves')!;
    const svg = await figureSvg(loss);
    const legendStrokes = [...svg.matchAll(/role-legend-symbol[^>]*><path[^>]*stroke="#333"[^>]*stroke-dasharray="([^"]+)"/g)].map(
      (m) => m[1],
    );
    expect(new Set(legendStrokes).size).toBe(3); // train, valid, test: three different dashes, drawn
    const png = svgToPng(svg);
    const pixels = new Resvg(svg).render().pixels;
    let nonWhite = 0;
    for (let i = 0; i < pixels.length; i += 4) if (pixels[i]! < 200 || pixels[i + 1]! < 200 || pixels[i + 2]! < 200) nonWhite++;
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(nonWhite).toBeGreaterThan(1000);
    const lat = figs.find((f) => f.name === 'decode_latency_vs_length')!;
    expect(JSON.stringify(lat.spec)).toContain('"type":"log","domain":[16,256]');
  });
});

describe('report outputs', () => {
  it('tidy CSV: one row per run with its seed, every axis and every metric', () => {
    const r = buildReport([mqar], { metric: 'accuracy' });
    const lines = renderRunsCsv(r).trim().split('\n');
    const header = lines[0]!.split(',');
    expect(header.slice(0, 9)).toEqual([
      'sweep',
      'id',
      'state',
      'case',
      'seed',
      'model.preset',
      'model.d_model',
      'task.seq_len',
      'task.num_kv_pairs',
    ]);
    expect(header).toContain('test_accuracy@N=64');
    expect(header).toContain('params'); // every metric, not only the --metric ones
    expect(lines).toHaveLength(1 + 24);
    expect(lines.filter((l) => l.split(',')[4] === '1')).toHaveLength(12);
  });
  it('reports land in directories named from inputs and options; a rerun replaces only its own', async () => {
    const base = { formats: ['md', 'csv'], plots: false, png: false, band: 'std' as const };
    const a = await writeReport([lm], base);
    const b = await writeReport([lm], { ...base, metric: 'valid_bpb' });
    const c = await writeReport([lm, mqar], { ...base, metric: 'params' });
    expect(a.dir).toBe(path.join(lm, 'reports', 'format=md-csv'));
    expect(b.dir).toBe(path.join(lm, 'reports', 'metric=valid_bpb__format=md-csv'));
    expect(c.dir).toBe(path.join(lm, 'reports', 'lm3+mqar3__metric=params__format=md-csv'));
    fs.writeFileSync(path.join(a.dir, 'stale.txt'), 'x');
    const before = fs.readFileSync(path.join(b.dir, 'table.md'), 'utf8');
    await writeReport([lm], base);
    expect(fs.existsSync(path.join(a.dir, 'stale.txt'))).toBe(false);
    expect(fs.readFileSync(path.join(b.dir, 'table.md'), 'utf8')).toBe(before);
    expect(fs.readdirSync(path.join(lm, 'reports')).sort()).toEqual([
      'format=md-csv',
      'lm3+mqar3__metric=params__format=md-csv',
      'metric=valid_bpb__format=md-csv',
    ]);
    const foreign = fs.mkdtempSync(path.join(tmp, 'mine-'));
    fs.writeFileSync(path.join(foreign, 'notes.txt'), 'keep me');
    await expect(writeReport([lm], { ...base, out: foreign })).rejects.toThrow(/not a seqlab report directory/);
    expect(fs.readFileSync(path.join(foreign, 'notes.txt'), 'utf8')).toBe('keep me');
  });
  it('shows a claims table when claims are given', () => {
    const r = buildReport([lm], { metric: 'valid_bpb' });
    r.claims = claimsFromJson({ claims: [{ claim: 'mamba beats retnet on valid_bpb', verdict: 'holds', p: 0.01 }] });
    expect(renderMarkdown(r)).toMatch(
      /## Claims\n\n\| claim +\| verdict \| p +\|\n.*\n\| mamba beats retnet on valid_bpb \| holds +\| 0\.01 \|/,
    );
  });
});

describe('seqlab report on bad input', () => {
  const seqlab = (...args: string[]) =>
    spawnSync(process.execPath, [path.join(root, 'bin/seqlab.js'), ...args], { encoding: 'utf8', timeout: 60_000 });
  it('an unknown metric is exit 2 with did-you-mean and writes nothing', () => {
    const r = seqlab('report', lm, '--metric', 'valid_bpc', '--no-plots');
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe('seqlab: error: --metric: unknown metric "valid_bpc" (did you mean "valid_bpb"?)');
    expect(fs.existsSync(path.join(lm, 'reports', 'metric=valid_bpc'))).toBe(false);
    const g = seqlab('report', lm, '--group-by', 'model.prest', '--no-plots');
    expect(g.status).toBe(2);
    expect(g.stderr).toMatch(/--group-by: no run has the key "model.prest" \(did you mean "model.preset"\?\)/);
    const absent = seqlab('report', lm, '--metric', 'accuracy', '--no-plots');
    expect(absent.stderr).toMatch(/--metric: no run reports "accuracy" \(it applies to synthetic recall tasks\)/);
  });
});
