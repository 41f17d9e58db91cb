import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildReport } from '../src/commands/report.ts';
import { renderGroupsCsv, renderLatex, renderMarkdown, renderRunsCsv } from '../src/report/render.ts';
import { familyColours, familyOf, figureSvg, lossCurvesFigure, variantOf } from '../src/report/plots.ts';
import type { ReportGroup } from '../src/report/collect.ts';
import { SWEEP_FORMAT_VERSION } from '../src/runner/layout.ts';

/** A finished sweep on disk: 2 presets x 2 lrs x 2 seeds with known summaries. */
function fakeSweep(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-report-'));
  const runs = [];
  let i = 0;
  for (const preset of ['transformer', 'retnet']) {
    for (const lr of [0.001, 0.003]) {
      for (const seed of [0, 1]) {
        const id = `run${String(i).padStart(9, '0')}`;
        // transformer is better at lr 0.003, retnet at lr 0.001; seeds differ by +-0.1.
        const best = (preset === 'transformer') === (lr === 0.003);
        const bpb = (preset === 'transformer' ? 3.0 : 3.2) + (best ? 0 : 0.5) + (seed === 0 ? -0.1 : 0.1);
        const rd = path.join(dir, 'runs', id);
        fs.mkdirSync(rd, { recursive: true });
        fs.writeFileSync(
          path.join(rd, 'config.json'),
          JSON.stringify({ seed, model: { preset, d_model: 32 }, train: { lr }, task: { seq_len: 64 } }),
        );
        fs.writeFileSync(
          path.join(rd, 'summary.json'),
          JSON.stringify({
            valid_bpb: bpb,
            valid_loss: bpb * Math.LN2,
            params: preset === 'transformer' ? 1000 : 1100,
            train_tokens_per_s: 500 + i,
          }),
        );
        fs.writeFileSync(
          path.join(rd, 'metrics.jsonl'),
          `{"step":10,"tokens":640,"time_s":1,"train_loss":${bpb + 1}}\n{"step":20,"tokens":1280,"time_s":2,"split":"valid","loss":${bpb}}\n`,
        );
        fs.writeFileSync(path.join(rd, 'env.json'), JSON.stringify({ backend: 'wasm', cpu_model: 'Test CPU', cpu_count: 2 }));
        runs.push({ id, index: i, axes: { 'model.preset': preset, 'train.lr': lr, seed }, config: `runs/${id}/config.json`, added: '' });
        i++;
      }
    }
  }
  fs.writeFileSync(
    path.join(dir, 'plan.json'),
    JSON.stringify({ format_version: SWEEP_FORMAT_VERSION, name: 'fake', created: '', updated: '', execution: {}, runs }),
  );
  return dir;
}

describe('seqlab report', () => {
  const dir = fakeSweep();

  it('groups by the swept axes minus seed and aggregates mean ± std (ddof 1)', () => {
    const r = buildReport([dir], { metric: 'valid_bpb,params' });
    expect(r.groupBy).toEqual(['model.preset', 'train.lr']);
    expect(r.groups).toHaveLength(4);
    const g = r.groups.find((x) => x.key['model.preset'] === 'transformer' && x.key['train.lr'] === 0.003)!;
    expect(g.stats.valid_bpb.n).toBe(2);
    expect(g.stats.valid_bpb.mean).toBeCloseTo(3.0, 12);
    expect(g.stats.valid_bpb.std).toBeCloseTo(Math.SQRT2 * 0.1, 12);
    const md = renderMarkdown(r);
    expect(md).toMatch(/\| transformer\s+\| 0\.003\s+\| 2\s+\| 3\.000 ± 0\.141\s+\| 1k\s+\|/); // params is fixed by the config: no ± 0
    expect(md).toMatch(/Backend \/ machine: wasm on Test CPU x2/);
  });

  it('--best-over keeps the best learning rate per architecture (zoology protocol)', () => {
    const r = buildReport([dir], { metric: 'valid_bpb', bestOver: 'train.lr', by: 'valid_loss' });
    expect(r.groupBy).toEqual(['model.preset']);
    const lrs = Object.fromEntries(
      r.groups.map((g) => [g.key['model.preset'], g.runs.map((x) => x.config.train as { lr: number }).map((t) => t.lr)]),
    );
    expect(lrs).toEqual({ transformer: [0.003, 0.003], retnet: [0.001, 0.001] });
  });

  it('--baseline adds relative deltas against the matching group', () => {
    const r = buildReport([dir], { metric: 'params', groupBy: 'model.preset', baseline: 'model.preset=transformer' });
    const retnet = r.groups.find((g) => g.key['model.preset'] === 'retnet')!;
    expect(r.deltas!.get(retnet)!.params).toBeCloseTo(0.1, 12);
    expect(renderMarkdown(r)).toContain('(+10.0%)');
    expect(() => buildReport([dir], { baseline: 'model.preset=nope' })).toThrow(/no group has model.preset = nope/);
  });

  it('LaTeX uses booktabs and bolds the best value per column; CSV has run and group rows', () => {
    const r = buildReport([dir], { metric: 'valid_bpb,train_tokens_per_s', groupBy: 'model.preset,train.lr' });
    const tex = renderLatex(r);
    expect(tex).toContain('\\toprule');
    expect(tex).toContain('\\bottomrule');
    const bold = tex.split('\n').filter((l) => l.includes('\\textbf'));
    expect(bold).toHaveLength(2); // lowest bpb (transformer, 0.003) and highest tokens/s (retnet, 0.003)
    expect(bold[0]).toMatch(/^transformer & 0.003/);
    const runsCsv = renderRunsCsv(r).trim().split('\n');
    expect(runsCsv).toHaveLength(1 + 8);
    expect(runsCsv[0]).toBe('sweep,id,state,case,seed,model.preset,train.lr,params,train_tokens_per_s,valid_bpb,valid_loss');
    expect(runsCsv[1]).toMatch(/^fake,run000000000,done,,0,transformer,0.001,1000,500,3.4/);
    const groupsCsv = renderGroupsCsv(r).trim().split('\n');
    expect(groupsCsv).toHaveLength(1 + 4);
    expect(groupsCsv[0]).toBe('model.preset,train.lr,n,valid_bpb_mean,valid_bpb_std,train_tokens_per_s_mean,train_tokens_per_s_std');
  });

  it('writes an SVG of the loss curves', async () => {
    const r = buildReport([dir], {});
    const svg = await figureSvg(lossCurvesFigure({ groups: r.groups, groupBy: r.groupBy, band: 'std' })!);
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('loss (nats/token)');
  });

  it('a sweep without finished runs is a clear error', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-report-empty-'));
    fs.writeFileSync(path.join(empty, 'plan.json'), JSON.stringify({ format_version: SWEEP_FORMAT_VERSION, name: 'e', runs: [] }));
    expect(() => buildReport([empty], {})).toThrow(/no finished runs/);
  });
});

describe('figure families and variants', () => {
  const g = (key: Record<string, unknown>) => ({ key, runs: [], stats: {} }) as unknown as ReportGroup;
  // a sweep of named cases: two plain families, a pattern-built one (preset 'custom') and an ablation
  const groups = [
    g({ case: 'retnet', 'model.preset': 'retnet', 'model.d_model': 48, 'model.mixer.decay': undefined }),
    g({ case: 'interleave-1:1', 'model.preset': 'custom', 'model.d_model': 52, 'model.mixer.decay': undefined }),
    g({ case: 'ablation', 'model.preset': 'selret', 'model.d_model': 48, 'model.mixer.decay': 'gla' }),
    g({ case: 'ablation', 'model.preset': 'selret', 'model.d_model': 48, 'model.mixer.decay': 'fixed' }),
  ];
  it('the family is the case when there is one, else the preset', () => {
    expect(groups.map(familyOf)).toEqual(['retnet', 'interleave-1:1', 'ablation', 'ablation']);
    expect(familyOf(g({ 'model.preset': 'mamba', 'train.lr': 0.01 }))).toBe('mamba');
  });
  it('a variant names only the keys that differ within its family, never an unset one', () => {
    expect(groups.map((x) => variantOf(x, [], groups))).toEqual(['', '', 'decay gla', 'decay fixed']);
    expect(variantOf(groups[0]!, [])).toBe('preset retnet, d_model 48'); // without the groups: every set key
  });
  it('up to 20 families get 20 distinct colours', () => {
    const many = Array.from({ length: 13 }, (_, i) => g({ case: `c${String(i).padStart(2, '0')}` }));
    expect(new Set(familyColours(many).range).size).toBe(13);
    expect(new Set(familyColours(many.slice(0, 5)).range).size).toBe(5);
  });
});
