// `seqlab export SWEEP_DIR --tensorboard DIR`: every run's curves as TensorBoard scalars (train
// loss, lr, grad norm, tokens/s; eval loss, bpb, ppl, accuracy per split), one run directory each.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { collectRuns, type ReportRun } from '../report/collect.ts';
import { eventFile, type ScalarPoint } from '../export/tensorboard.ts';
import { runFiles } from '../runner/layout.ts';
import { readJsonl, readJsonOrUndefined, writeFileAtomic } from '../util/fs.ts';

const TRAIN_FIELDS: Record<string, string> = {
  train_loss: 'train/loss',
  lr: 'train/lr',
  grad_norm: 'train/grad_norm',
  tokens_per_s: 'train/tokens_per_s',
};
const EVAL_FIELDS = ['loss', 'bpb', 'ppl', 'accuracy', 'exact_match'];

/** The scalars of one run's metrics.jsonl, with wall times from env.json's start timestamp. */
export function runScalars(run: ReportRun): ScalarPoint[] {
  const files = runFiles(run.sweepDir, run.id);
  const lines = readJsonl<Record<string, unknown>>(files.metrics);
  const env = readJsonOrUndefined<Record<string, unknown>>(path.join(files.dir, 'env.json'));
  const lastTime = Math.max(0, ...lines.map((l) => (typeof l.time_s === 'number' ? l.time_s : 0)));
  const started =
    typeof env?.timestamp_utc === 'string'
      ? Date.parse(env.timestamp_utc) / 1000
      : fs.existsSync(files.metrics)
        ? fs.statSync(files.metrics).mtimeMs / 1000 - lastTime
        : 0;
  const out: ScalarPoint[] = [];
  for (const l of lines) {
    const step = Number(l.step);
    if (!Number.isFinite(step)) continue;
    const wallTime = started + (typeof l.time_s === 'number' ? l.time_s : 0);
    const push = (tag: string, v: unknown) => {
      if (typeof v === 'number' && Number.isFinite(v)) out.push({ step, wallTime, tag, value: v });
    };
    if (typeof l.split === 'string') for (const f of EVAL_FIELDS) push(`${l.split}/${f}`, l[f]);
    else for (const [f, tag] of Object.entries(TRAIN_FIELDS)) push(tag, l[f]);
  }
  return out;
}

/** A TensorBoard run name: the run's axes (seed last) and its id, filesystem-safe. */
export function runName(run: ReportRun): string {
  const axes = Object.entries(run.axes).sort(([a], [b]) => (a === 'seed' ? 1 : b === 'seed' ? -1 : 0));
  const label = [run.case, ...axes.map(([k, v]) => `${k.split('.').pop()}=${typeof v === 'string' ? v : JSON.stringify(v)}`)]
    .filter(Boolean)
    .join(',');
  return `${label ? `${label}_` : ''}${run.id}`.replace(/[^A-Za-z0-9._=,+-]+/g, '-');
}

export function exportTensorboard(sweepDir: string, outDir: string): { runs: number; points: number } {
  const runs = collectRuns([sweepDir]).filter((r) => fs.existsSync(runFiles(r.sweepDir, r.id).metrics));
  if (runs.length === 0) throw new UserError(`${sweepDir}: no run has metrics yet (see seqlab status)`);
  let points = 0;
  for (const run of runs) {
    const scalars = runScalars(run);
    if (scalars.length === 0) continue;
    const dir = path.join(outDir, runName(run));
    fs.mkdirSync(dir, { recursive: true });
    for (const f of fs.readdirSync(dir)) if (f.startsWith('events.out.tfevents.')) fs.rmSync(path.join(dir, f)); // a rerun replaces its file
    const start = Math.min(...scalars.map((s) => s.wallTime));
    writeFileAtomic(path.join(dir, `events.out.tfevents.${Math.floor(start)}.seqlab`), eventFile(scalars, start));
    points += scalars.length;
  }
  return { runs: runs.length, points };
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description("write a sweep's curves for other tools: TensorBoard event files (scalars per run)")
    .argument('<sweep_dir>', 'a sweep directory (runs/<name>)')
    .requiredOption('--tensorboard <dir>', 'write one TensorBoard run directory per run here')
    .addHelpText('after', '\nExample:\n  $ seqlab export runs/quickstart --tensorboard tb/quickstart && tensorboard --logdir tb')
    .action((sweepDir: string, opts: { tensorboard: string }) => {
      const r = exportTensorboard(sweepDir, opts.tensorboard);
      process.stderr.write(`wrote ${r.points} scalars of ${r.runs} runs under ${opts.tensorboard}/\n`);
    });
}
