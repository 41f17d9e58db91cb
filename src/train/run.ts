/**
 * One run, from its resolved config to summary.json: backend, data, model, training, final
 * evaluation, checkpoint, decode benchmarks and the docs/runner.md section 5 metrics. The scheduler
 * (src/runner) owns config.json, status.json, the ledger and log.txt; this writes metrics.jsonl,
 * env.json, checkpoint/ and, last and atomically, summary.json.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { RunConfig } from '../config/schema.ts';
import { selectBackend, type BackendChoice } from '../backend/select.ts';
import { benchDecode, rssPeakBytes, syntheticTokens } from '../measure/measure.ts';
import { matmulPeak, peakSetup } from '../measure/peak.ts';
import { saveCheckpoint } from '../models/checkpoint.ts';
import { lmTokenizer } from '../tasks/kinds/lm.ts';
import { buildModel } from '../models/model.ts';
import { flopsPerToken, FLOPS_FORMULA_VERSION } from '../models/flops.ts';
import { countParams } from '../models/params.ts';
import type { LanguageModel } from '../models/types.ts';
import { loadTask, taskMetrics } from '../tasks/index.ts';
import { SummaryBuilder, type Summary } from '../metrics/summary.ts';
import { appendJsonl, writeJsonAtomic } from '../util/fs.ts';
import { subSeed } from '../util/hash.ts';
import { collectEnv, installMatmul } from './env.ts';
import { checkAbort, evaluate, nextTurn, round, roundMetrics, trainLoop, type Progress } from './loop.ts';
import { evaluateSplit, splitMetrics, type SplitMetrics } from './eval.ts';
import { checkpointEvery, clearTrainState, TRAIN_STATE_DIR } from './resume.ts';
import { runId } from '../config/identity.ts';
import { stopRule, targetMetrics } from './stop.ts';
import type { TrainData } from './types.ts';

export interface RunOptions {
  backend: string;
  threads?: number;
  log: (line: string) => void;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

export interface RunResult {
  state: 'done' | 'diverged';
  summary: Summary;
}

/** Decode state bytes of one sequence after a prefill of `L` tokens (KV cache at L for attention). */
function stateBytesAt(model: LanguageModel, vocab: number, L: number): number {
  const x = tf.tensor2d(syntheticTokens(1, L, vocab), [1, L], 'int32');
  const { logits, state } = model.prefill(x);
  const bytes = model.stateBytes(state);
  model.disposeState(state);
  logits.dispose();
  x.dispose();
  return bytes;
}

/** Select the backend once per process (workers run one run each; tests may run several). */
let backendDone: { requested: string; choice: BackendChoice; matmul: Awaited<ReturnType<typeof installMatmul>> } | undefined;

async function prepareBackend(requested: string, threads: number | undefined, log: (line: string) => void) {
  if (backendDone?.requested === requested && tf.getBackend() === backendDone.choice.name) return backendDone;
  const choice = await selectBackend(requested, { threads });
  const matmul =
    choice.name === 'wasm'
      ? await installMatmul(threads, log)
      : { path: 'stock' as const, reason: `${choice.name} backend uses its own kernels`, threads: choice.tfThreads?.intra_op ?? undefined };
  backendDone = { requested, choice, matmul };
  return backendDone;
}

export async function runTraining(cfg: RunConfig, runDir: string, opts: RunOptions): Promise<RunResult> {
  const t0 = performance.now();
  const log = opts.log;
  const { choice, matmul } = await prepareBackend(opts.backend, opts.threads, log);
  log(`backend ${choice.name} (${choice.reason}); matmul ${matmul.path} (${matmul.reason})`);
  const peak = await matmulPeak(peakSetup(choice.name, { threads: 1, ...matmul }, { tf_threads: choice.tfThreads ?? null }));
  const peakGflops = peak.gflops;
  log(
    `matmul peak ${peakGflops.toFixed(2)} GFLOP/s (1024^3 float32, ${peak.source === 'cache' ? `cached, measured ${peak.measured_at}` : 'measured now'})`,
  );
  writeJsonAtomic(path.join(runDir, 'env.json'), await collectEnv({ backend: choice, matmul, peak, threads: opts.threads }));

  const task = loadTask(cfg.task);
  const data: TrainData = task;
  log(`task ${JSON.stringify(task.describe())}`);
  const { params, paramsNonEmbedding } = countParams(cfg.model);
  const fwd = flopsPerToken(cfg.model, data.seqLen);
  log(
    `model ${(cfg.model as { preset?: string }).preset ?? ''}: ${params} params (${paramsNonEmbedding} non-embedding), ${fwd} FLOPs/token forward`,
  );

  const model = buildModel(cfg.model, subSeed(cfg.seed, 'init'));
  try {
    const loop = await trainLoop(model, data, cfg, {
      log,
      onProgress: opts.onProgress,
      signal: opts.signal,
      metricsFile: path.join(runDir, 'metrics.jsonl'),
      startTime: t0,
      trainState: {
        dir: path.join(runDir, TRAIN_STATE_DIR),
        runId: runId(cfg),
        every: checkpointEvery(cfg.train.checkpoint_every),
        metricsFile: path.join(runDir, 'metrics.jsonl'),
      },
    });
    const summary = new SummaryBuilder(
      { state: loop.state, flops_formula: FLOPS_FORMULA_VERSION, backend: choice.name },
      taskMetrics(cfg.task),
    );
    summary.set('params', params);
    summary.set('params_non_embedding', paramsNonEmbedding);
    summary.set('flops_per_token_fwd', fwd);
    summary.set('seq_len', data.seqLen);
    summary.set('steps', loop.steps);
    summary.set('train_tokens', loop.tokens);
    summary.set('train_flops', 3 * fwd * loop.tokens);
    summary.set('train_loss', loop.trainLoss);
    summary.set('train_time_s', loop.trainTimeS);
    summary.set('train_resumes', loop.resumes);
    if (loop.timedSteps > 0) {
      summary.set('train_tokens_per_s', loop.tokensPerS);
      summary.set('mfu', (3 * fwd * loop.tokensPerS) / (peakGflops * 1e9));
    }
    summary.set('peak_tensor_bytes', loop.peakTensorBytes);

    if (loop.state === 'done') {
      const metricsFile = path.join(runDir, 'metrics.jsonl');
      const finalEvals = new Map<string, SplitMetrics>();
      for (const split of cfg.eval.splits) {
        await nextTurn();
        checkAbort(opts.signal);
        opts.onProgress?.({ step: loop.steps, totalSteps: cfg.train.steps, loss: loop.trainLoss, phase: `eval ${split}` });
        const m = evaluate(model, data, cfg, split);
        finalEvals.set(split, m);
        appendJsonl(metricsFile, {
          step: loop.steps,
          tokens: loop.tokens,
          time_s: round((performance.now() - t0) / 1000 + loop.timeOffsetS),
          split,
          ...roundMetrics(m, data.kind),
        });
        summary.split(split, { ...m, eval_tokens: m.tokens, eval_windows: m.windows });
        log(
          `${split}: loss ${m.loss.toFixed(4)}${m.bpb !== undefined ? ` bpb ${m.bpb.toFixed(4)}` : ''}${data.kind === 'synthetic' ? ` accuracy ${m.accuracy.toFixed(4)}` : ''} over ${m.windows} windows`,
        );
      }
      // Extra fixed eval sets (induction: other lengths): accuracy on the test split of each.
      // Learned absolute positions stop at seq_len: longer sequences cannot be evaluated or benched.
      const fits = (L: number, what: string) => {
        if (cfg.model.abs_pos !== 'learned' || L <= cfg.model.seq_len) return true;
        log(`${what}: skipped (learned positions stop at ${cfg.model.seq_len})`);
        return false;
      };
      for (const extra of task.extraEvals ?? []) {
        await nextTurn();
        checkAbort(opts.signal);
        if (!fits(extra.seqLen, `test ${extra.name}`)) continue;
        const src: TrainData = {
          kind: data.kind,
          vocabSize: data.vocabSize,
          seqLen: extra.seqLen,
          trainBatch: data.trainBatch,
          evalBatches: (sp, bs) => extra.evalBatches(sp, bs),
        };
        const m = splitMetrics(evaluateSplit(model, src, 'test', { batchSize: cfg.eval.batch_size ?? cfg.train.batch_size }), data.kind);
        summary.extra(extra.name, m);
        log(`test ${extra.name}: accuracy ${m.accuracy.toFixed(4)}`);
      }
      const stop = stopRule(cfg);
      const finalEval = stop && loop.stoppedAt === undefined ? finalEvals.get(stop.split) : undefined;
      summary.setAll(
        targetMetrics(cfg, data.seqLen, loop.evals, finalEval && { step: loop.steps, split: stop!.split, metrics: finalEval }),
      );
      summary.info(
        'eval_protocol',
        `non-overlapping windows of ${data.seqLen} tokens, state reset per window, ${cfg.eval.batches === 'all' ? 'every window of the split' : `first ${summary.get('valid_eval_windows') ?? summary.get('test_eval_windows') ?? '?'} windows`}`,
      );

      await nextTurn();
      checkAbort(opts.signal);
      if (cfg.train.checkpoint) {
        const tokenizer = cfg.task.kind === 'lm' ? lmTokenizer(cfg.task).tok.state() : undefined;
        await saveCheckpoint(model, path.join(runDir, 'checkpoint'), { seed: cfg.seed, tokenizer });
        log('checkpoint saved');
      }
      const stateAt = new Map<number, number>();
      if (cfg.bench.enabled) {
        for (const L of cfg.bench.prefill_lengths) {
          await nextTurn();
          checkAbort(opts.signal);
          if (!fits(L, `bench L=${L}`)) continue;
          opts.onProgress?.({ step: loop.steps, totalSteps: cfg.train.steps, loss: loop.trainLoss, phase: `bench L=${L}` });
          const b = await benchDecode(model, data.vocabSize, L, { decodeTokens: cfg.bench.decode_tokens, repeats: cfg.bench.repeats });
          summary.bench(L, { prefill_tokens_per_s: b.prefillTokensPerS, decode_ms_per_token: b.decodeMsPerToken });
          stateAt.set(L, b.stateBytes);
          log(`bench L=${L}: prefill ${b.prefillTokensPerS.toFixed(0)} tok/s, decode ${b.decodeMsPerToken.toFixed(2)} ms/token`);
        }
      }
      const benched = [...stateAt.keys()];
      const Lstate = benched.length ? Math.max(...benched) : data.seqLen;
      summary.set('state_bytes_per_sequence', stateAt.get(Lstate) ?? stateBytesAt(model, data.vocabSize, Lstate));
      summary.info('state_bytes_at', Lstate);
    }
    summary.set('rss_peak_bytes', rssPeakBytes());
    const wallS = (performance.now() - t0) / 1000;
    summary.set('wall_s', wallS);
    // Last chance to hear a stop (or, in a worker, the runner's death): a stopped run writes no summary.
    await nextTurn();
    checkAbort(opts.signal);
    const written = summary.build();
    writeJsonAtomic(path.join(runDir, 'summary.json'), written);
    clearTrainState(runDir); // the run has its result: its training checkpoints are not needed again
    log(`${loop.state} in ${wallS.toFixed(1)} s`);
    return { state: loop.state, summary: written };
  } finally {
    model.dispose();
  }
}
