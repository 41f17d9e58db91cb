/**
 * `npm run bench:torch`: seqlab and an independent PyTorch implementation (bench/pytorch/models.py)
 * side by side on the reference configuration (bench/pytorch/reference.yaml), family by family,
 * interleaved (seqlab, then PyTorch, each in its own process), on the same training batches
 * (SOTU byte windows written once to a file both read) and the same thread budget (seqlab: BLAS
 * and fused-scan threads; PyTorch: torch.set_num_threads, OPENBLAS_NUM_THREADS=1). Prints train
 * tokens/s, decode ms/token after prompts of each length, peak memory, and seqlab / PyTorch.
 *
 *   npm run bench:torch -- [--steps 20] [--warmup 3] [--families transformer,retnet,selret,mamba]
 *                          [--lengths 256,1024,4096] [--decode-tokens 16] [--decode-repeats 3] [--threads 2] [--json FILE]
 *
 * Decode ms/token is the median over `decode-repeats` timed rounds (after one untimed round) of the
 * mean over `decode-tokens` greedy steps, on both sides.
 *
 * Without a Python that imports torch (SEQLAB_PYTHON if set, else python3, /usr/bin/python3, python) it prints
 * one line and exits 0. Numbers depend on the machine and its load: rerun on an idle machine.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { RunConfig } from '../../src/config/schema.ts';
import { loadPlan } from '../../src/config/plan.ts';
import { UserError } from '../../src/errors.ts';
import { installMatmulKernels } from '../../src/native/matmul.ts';
import { selectBackend } from '../../src/backend/select.ts';
import { benchDecode } from '../../src/measure/measure.ts';
import { buildModel } from '../../src/models/model.ts';
import { loadTask } from '../../src/tasks/index.ts';
import { trainLoop } from '../../src/train/loop.ts';
import type { Batch, TrainData } from '../../src/train/types.ts';
import { writeFileAtomic } from '../../src/util/fs.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const REFERENCE = path.join(here, 'reference.yaml');

interface SideResult {
  family: string;
  train_tokens_per_s: number | null;
  decode_ms_per_token: Record<string, number>;
  rss_peak_bytes: number;
  peak_tensor_bytes?: number;
  params: number;
  final_loss: number;
}

interface Options {
  steps: number;
  warmup: number;
  families: string[];
  lengths: number[];
  decodeTokens: number;
  decodeRepeats: number;
  threads: number;
  json?: string;
}

const ints = (s: string, what: string): number[] =>
  s
    .split(',')
    .filter(Boolean)
    .map((x) => {
      const n = Number(x);
      if (!Number.isInteger(n) || n < 1) throw new UserError(`--${what}: expected positive integers, got '${x}'`);
      return n;
    });

function options(argv: string[]): Options & { side?: string; family?: string; batches?: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      steps: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '3' },
      families: { type: 'string', default: 'transformer,retnet,selret,mamba' },
      lengths: { type: 'string', default: '256,1024,4096' },
      'decode-tokens': { type: 'string', default: '16' },
      'decode-repeats': { type: 'string', default: '3' },
      threads: { type: 'string', default: '2' },
      json: { type: 'string' },
      side: { type: 'string' },
      family: { type: 'string' },
      batches: { type: 'string' },
    },
    strict: true,
  });
  const one = (k: 'steps' | 'warmup' | 'decode-tokens' | 'decode-repeats' | 'threads') => ints(values[k]!, k)[0]!;
  const o = {
    steps: one('steps'),
    warmup: Number(values.warmup),
    families: values.families!.split(',').filter(Boolean),
    lengths: ints(values.lengths!, 'lengths'),
    decodeTokens: one('decode-tokens'),
    decodeRepeats: one('decode-repeats'),
    threads: one('threads'),
    json: values.json,
    side: values.side,
    family: values.family,
    batches: values.batches,
  };
  if (!Number.isInteger(o.warmup) || o.warmup < 0 || o.warmup >= o.steps)
    throw new UserError(`--warmup: expected an integer in [0, steps), got '${values.warmup}'`);
  return o;
}

/** The reference run config of each family (the cases of reference.yaml). */
function referenceConfigs(steps: number, warmup: number): Map<string, RunConfig> {
  const plan = loadPlan(REFERENCE, { set: [`train.steps=${steps}`, `train.timing_warmup=${warmup}`] });
  return new Map(plan.runs.map((r) => [r.case!, r.config]));
}

/** [2, steps, B, T] int32: inputs then targets of every step, from the task's own training stream. */
function writeBatches(cfg: RunConfig, steps: number, file: string): void {
  const data = loadTask(cfg.task);
  const B = cfg.train.batch_size,
    T = data.seqLen;
  const out = new Int32Array(2 * steps * B * T);
  for (let s = 0; s < steps; s++) {
    const b = data.trainBatch(s, B, cfg.seed);
    out.set(b.inputs, s * B * T);
    out.set(b.targets, (steps + s) * B * T);
  }
  writeFileSync(file, Buffer.from(out.buffer));
}

/** seqlab side of one family (own process): train on the file's batches, then decode. */
async function seqlabSide(family: string, file: string, o: Options): Promise<SideResult> {
  const cfg = referenceConfigs(o.steps, o.warmup).get(family);
  if (!cfg) throw new UserError(`unknown family '${family}' (reference.yaml has no such case)`);
  await selectBackend('wasm');
  await installMatmulKernels({ threads: o.threads, log: () => {} });
  const task = loadTask(cfg.task);
  const B = cfg.train.batch_size,
    T = task.seqLen;
  const all = new Int32Array(new Uint8Array(readFileSync(file)).buffer);
  const data: TrainData = {
    kind: 'lm',
    vocabSize: task.vocabSize,
    seqLen: T,
    trainBatch: (step: number): Batch => ({
      inputs: all.slice(step * B * T, (step + 1) * B * T),
      targets: all.slice((o.steps + step) * B * T, (o.steps + step + 1) * B * T),
      batch: B,
      seqLen: T,
    }),
    evalBatches: () => [],
  };
  const model = buildModel(cfg.model, 0);
  const loop = await trainLoop(model, data, cfg, { log: () => {} });
  const decode: Record<string, number> = {};
  for (const L of o.lengths)
    decode[String(L)] = (
      await benchDecode(model, task.vocabSize, L, { decodeTokens: o.decodeTokens, repeats: o.decodeRepeats })
    ).decodeMsPerToken;
  let params = 0;
  for (const v of model.weights.values()) params += v.size;
  model.dispose();
  return {
    family,
    train_tokens_per_s: loop.tokensPerS,
    decode_ms_per_token: decode,
    rss_peak_bytes: process.resourceUsage().maxRSS * 1024,
    peak_tensor_bytes: loop.peakTensorBytes,
    params,
    final_loss: loop.losses[loop.losses.length - 1] ?? NaN,
  };
}

/** The first Python that imports torch, with its version. */
function findTorch(): { python: string; version: string } | { why: string } {
  const tried: string[] = [];
  const env = process.env.SEQLAB_PYTHON?.trim();
  for (const py of env ? [env] : ['python3', '/usr/bin/python3', 'python']) {
    if (tried.includes(py)) continue;
    tried.push(py);
    const r = spawnSync(py, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0) return { python: py, version: r.stdout.trim() };
  }
  return { why: `no Python with torch (tried ${tried.join(', ')}; Debian: apt-get install python3-torch, or set SEQLAB_PYTHON)` };
}

function lastJson(stdout: string, what: string): SideResult {
  const line = stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) throw new Error(`${what} printed no result`);
  return JSON.parse(line) as SideResult;
}

const fmt = (x: number | null | undefined, d = 1) =>
  x == null || !Number.isFinite(x) ? '-' : x >= 1000 ? `${(x / 1000).toFixed(2)}k` : x.toFixed(d);
const mb = (x?: number) => (x == null ? '-' : `${(x / 2 ** 20).toFixed(0)} MiB`);

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  if (o.side === 'seqlab') {
    console.log(JSON.stringify(await seqlabSide(o.family!, o.batches!, o)));
    return;
  }
  const torch = findTorch();
  if ('why' in torch) {
    console.log(`bench:torch: skipped (${torch.why})`);
    return;
  }
  const cfgs = referenceConfigs(o.steps, o.warmup);
  for (const f of o.families)
    if (!cfgs.has(f)) throw new UserError(`--families: unknown family '${f}' (expected some of ${[...cfgs.keys()].join(', ')})`);
  const first = cfgs.get(o.families[0]!)!;
  const B = first.train.batch_size,
    T = first.model.seq_len;
  const dir = mkdtempSync(path.join(tmpdir(), 'seqlab-bench-torch-'));
  const file = path.join(dir, 'batches.i32');
  try {
    writeBatches(first, o.steps, file);
    console.error(
      `bench:torch: ${o.families.join(', ')} at d 128, 4 layers, T ${T}, batch ${B}, ${o.steps} steps (median after ${o.warmup}), ${o.threads} threads; PyTorch ${torch.version} (${torch.python})`,
    );
    const rows: { family: string; seqlab: SideResult; torch: SideResult }[] = [];
    for (const family of o.families) {
      const common = [
        '--steps',
        String(o.steps),
        '--warmup',
        String(o.warmup),
        '--lengths',
        o.lengths.join(','),
        '--decode-tokens',
        String(o.decodeTokens),
        '--decode-repeats',
        String(o.decodeRepeats),
        '--threads',
        String(o.threads),
      ];
      const s = spawnSync(
        process.execPath,
        [...process.execArgv, fileURLToPath(import.meta.url), '--side', 'seqlab', '--family', family, '--batches', file, ...common],
        {
          encoding: 'utf8',
          env: { ...process.env, SEQLAB_BLAS_THREADS: String(o.threads) },
          maxBuffer: 64 << 20,
        },
      );
      if (s.status !== 0) throw new Error(`seqlab ${family} failed: ${(s.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
      const sl = lastJson(s.stdout, `seqlab ${family}`);
      const p = spawnSync(
        torch.python,
        [
          path.join(here, 'bench.py'),
          family,
          file,
          String(o.steps),
          String(B),
          String(T),
          o.lengths.join(','),
          String(o.decodeTokens),
          String(o.threads),
          String(o.warmup),
          String(o.decodeRepeats),
        ],
        {
          encoding: 'utf8',
          env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: String(o.threads) },
          maxBuffer: 64 << 20,
        },
      );
      if (p.status !== 0) throw new Error(`PyTorch ${family} failed: ${(p.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
      const pt = lastJson(p.stdout, `PyTorch ${family}`);
      rows.push({ family, seqlab: sl, torch: pt });
      console.error(`bench:torch: ${family} done: seqlab ${JSON.stringify(sl)} PyTorch ${JSON.stringify(pt)}`);
    }
    const head = ['family', 'train tok/s seqlab', 'PyTorch', 'ratio'];
    for (const L of o.lengths) head.push(`decode ms/tok @${L} seqlab`, 'PyTorch', 'ratio');
    head.push('peak tensor bytes seqlab', 'peak RSS seqlab', 'peak RSS PyTorch');
    const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
    for (const r of rows) {
      const cells = [
        r.family,
        fmt(r.seqlab.train_tokens_per_s),
        fmt(r.torch.train_tokens_per_s),
        `${((r.seqlab.train_tokens_per_s ?? NaN) / (r.torch.train_tokens_per_s ?? NaN)).toFixed(2)}x`,
      ];
      for (const L of o.lengths) {
        const a = r.seqlab.decode_ms_per_token[String(L)],
          b = r.torch.decode_ms_per_token[String(L)];
        cells.push(fmt(a, 2), fmt(b, 2), `${(a / b).toFixed(2)}x`);
      }
      cells.push(mb(r.seqlab.peak_tensor_bytes), mb(r.seqlab.rss_peak_bytes), mb(r.torch.rss_peak_bytes));
      lines.push(`| ${cells.join(' | ')} |`);
    }
    console.log(lines.join('\n'));
    console.log('ratio = seqlab / PyTorch (train: higher is better for seqlab; decode: lower is better for seqlab)');
    if (o.json) writeFileAtomic(o.json, JSON.stringify({ steps: o.steps, threads: o.threads, torch: torch.version, rows }, null, 2) + '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  if (e instanceof UserError) {
    console.error(`bench:torch: error: ${e.message}`);
    process.exit(2);
  }
  console.error(`bench:torch: ${(e as Error).message}`);
  process.exit(1);
});
