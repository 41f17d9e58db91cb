import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { parseConfig, parseOverride, setPath } from '../config/load.ts';
import { loadPlan, resolveRun } from '../config/plan.ts';
import type { RunConfig } from '../config/schema.ts';
import { PRESETS } from '../models/presets.ts';
import { canonicalJson } from '../config/identity.ts';
import { humanCount, markdownTable } from '../util/format.ts';
import { collect } from './options.ts';

interface BenchCliOptions {
  preset: string[];
  set: string[];
  lengths?: string;
  batch?: string;
  kernels?: boolean;
  paths?: string;
  sizes?: string;
  ops?: boolean;
  forwardOnly?: boolean;
  backend: string;
  json?: boolean;
}

function ints(s: string, flag: string): number[] {
  const out = s.split(',').map((x) => Number(x.trim()));
  if (out.some((n) => !Number.isInteger(n) || n <= 0)) throw new UserError(`${flag} ${s}: expected positive integers separated by commas`);
  return out;
}

/** Run configs to benchmark: every distinct model of a config file, or presets at a small default size. */
function benchConfigs(file: string | undefined, opts: BenchCliOptions): RunConfig[] {
  if (file) {
    const seen = new Set<string>();
    return loadPlan(file, { set: opts.set, yes: true })
      .runs.map((r) => r.config)
      .filter((c) => {
        const key = canonicalJson({ model: c.model, task: c.task });
        return seen.has(key) ? false : (seen.add(key), true);
      });
  }
  const presets = opts.preset.includes('all') ? [...PRESETS] : opts.preset;
  return presets.map((preset) => {
    if (!(PRESETS as readonly string[]).includes(preset)) throw new UserError(`--preset ${preset}: unknown preset (see seqlab models)`);
    let raw: Record<string, unknown> = { model: { preset, d_model: 64, n_layers: 2 }, task: { seq_len: 128 }, train: { batch_size: 8 } };
    for (const spec of opts.set) {
      const { keys, value } = parseOverride(spec);
      raw = setPath(raw, keys, value);
    }
    return resolveRun(
      parseConfig(raw, () => '--set'),
      0,
    );
  });
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description(
      'micro-benchmarks: model forward / forward+backward tokens/s and memory across lengths, prefill and decode latency; matmul kernels; scan/retention ops',
    )
    .argument('[file]', 'config file: benchmark each distinct model of its sweep')
    .option('--preset <name>', "preset to benchmark ('all' for every preset); repeatable", collect, [])
    .option('--set <key=value>', 'override a key; repeatable', collect, [])
    .option('--lengths <list>', 'sequence lengths, comma-separated (default: the run seq_len)')
    .option('--batch <n>', 'batch size of the forward / backward rows')
    .option('--forward-only', 'skip forward+backward rows')
    .option('--kernels', 'matmul kernels: GFLOP/s of plain, transposed and batched products per path, and a reference training step')
    .option('--paths <list>', 'with --kernels: matmul paths to measure, e.g. native,builtin (default: stock,fallback,builtin,native)')
    .option('--sizes <list>', 'with --kernels: matrix sizes n (default: 256,512,1024)')
    .option('--ops', 'retention (parallel vs chunk) and Mamba scan (chunked vs sequential) forward+backward times')
    .option('--backend <name>', 'auto | tensorflow | wasm | cpu', 'auto')
    .option('--json', 'machine-readable rows')
    .addHelpText(
      'after',
      '\nExamples:\n  $ seqlab bench --preset transformer --preset selret --lengths 128,512,2048\n  $ seqlab bench configs/cases.yaml --forward-only\n  $ seqlab bench --kernels\n  $ seqlab bench --kernels --paths native,builtin --sizes 1024\n  $ seqlab bench --ops',
    )
    .action(async (file: string | undefined, opts: BenchCliOptions) => {
      const log = (line: string) => process.stderr.write(line + '\n');
      const print = (rows: unknown[], table: () => string) =>
        process.stdout.write(opts.json ? JSON.stringify(rows, null, 2) + '\n' : table() + '\n');
      if (opts.kernels) {
        const { selectBackend } = await import('../backend/select.ts');
        await selectBackend(opts.backend === 'auto' ? 'wasm' : opts.backend);
        const { benchKernels } = await import('../bench/kernels.ts');
        const { MATMUL_PATHS } = await import('../native/config.ts');
        const paths = opts.paths?.split(',').map((p) => p.trim());
        const unknown = paths?.find((p) => !(MATMUL_PATHS as readonly string[]).includes(p));
        if (unknown !== undefined)
          throw new UserError(`--paths ${opts.paths}: unknown matmul path '${unknown}' (expected: ${MATMUL_PATHS.join(', ')})`);
        const rows = await benchKernels(log, {
          ...(paths ? { paths: paths as (typeof MATMUL_PATHS)[number][] } : {}),
          ...(opts.sizes ? { sizes: ints(opts.sizes, '--sizes') } : {}),
        });
        print(rows, () =>
          markdownTable(
            ['path', 'case', 'size', 'shapes', 'ms', 'GFLOP/s', 'engine'],
            rows.map((r) => [
              r.path,
              r.case,
              String(r.size),
              r.shapes,
              r.ms.toFixed(2),
              Number.isFinite(r.gflops) ? r.gflops.toFixed(1) : '-',
              r.detail,
            ]),
          ),
        );
        return;
      }
      if (opts.ops) {
        const { benchOps } = await import('../bench/ops.ts');
        const rows = await benchOps({ print: !opts.json });
        if (opts.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      if (!file && opts.preset.length === 0)
        throw new UserError('bench: give a config FILE, --preset NAME, --kernels or --ops (see seqlab bench --help)');
      const configs = benchConfigs(file, opts);
      const { selectBackend } = await import('../backend/select.ts');
      const { installMatmul } = await import('../train/env.ts');
      const backend = await selectBackend(opts.backend);
      const matmul = await installMatmul(undefined, log);
      log(`backend ${backend.name} (${backend.reason}); matmul path ${matmul.path}`);
      const { benchModel } = await import('../bench/models.ts');
      const rows: Awaited<ReturnType<typeof benchModel>> = [];
      for (const cfg of configs) {
        log(`bench ${cfg.model.preset} (d ${cfg.model.d_model}, ${cfg.model.n_layers} layers)`);
        rows.push(
          ...(await benchModel(cfg, {
            seqLens: opts.lengths ? ints(opts.lengths, '--lengths') : undefined,
            batch: opts.batch ? ints(opts.batch, '--batch')[0] : undefined,
            forwardOnly: opts.forwardOnly,
            log,
          })),
        );
      }
      print(
        rows,
        () =>
          markdownTable(
            [
              'preset',
              'T',
              'B',
              'params',
              'FLOPs/tok',
              'fwd tok/s',
              'fwd+bwd tok/s',
              'fwd+bwd peak',
              'prefill tok/s',
              'decode ms/tok',
              'state/seq',
            ],
            rows.map((r) => [
              r.preset,
              String(r.seq_len),
              String(r.batch),
              humanCount(r.params),
              humanCount(r.flops_per_token_fwd),
              humanCount(r.fwd_tokens_per_s),
              humanCount(r.fwd_bwd_tokens_per_s),
              r.fwd_bwd_peak_bytes !== undefined ? humanCount(r.fwd_bwd_peak_bytes) + 'B' : '-',
              humanCount(r.prefill_tokens_per_s),
              r.decode_ms_per_token.toFixed(2),
              humanCount(r.state_bytes_per_sequence) + 'B',
            ]),
          ) + `\nbackend: ${backend.name}, matmul path: ${matmul.path}`,
      );
    });
}
