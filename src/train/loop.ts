/**
 * The training loop: AdamW steps over the task's batches, periodic evaluation, metrics.jsonl,
 * divergence detection and the measurements that only a training step can give (throughput, peak
 * tensor bytes). Model and data come in from the caller (src/train/run.ts wires the real ones).
 */
import * as tf from '@tensorflow/tfjs';
import type { RunConfig } from '../config/schema.ts';
import { guardWasmHeap } from '../backend/heap-guard.ts';
import { median, withPeakBytes } from '../measure/measure.ts';
import type { LanguageModel } from '../models/types.ts';
import { appendJsonl } from '../util/fs.ts';
import { subSeed } from '../util/hash.ts';
import { evaluateSplit, splitMetrics, type SplitMetrics } from './eval.ts';
import { countScored, nllSum } from './loss.ts';
import { AdamW, clipByGlobalNorm, learningRate } from './optimizer.ts';
import { freshProgress, TrainState, type LoopProgress, type TrainStateOptions } from './resume.ts';
import { checksAt, describeStop, meets, stopRule } from './stop.ts';
import type { Batch, Progress, TrainData } from './types.ts';

export type { Progress };

export interface LoopOptions {
  log: (line: string) => void;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** metrics.jsonl path (one line per logged step / eval); omitted: nothing written. */
  metricsFile?: string;
  /** performance.now() origin of metrics.jsonl time_s (default: the loop's start). */
  startTime?: number;
  /** Training checkpoints (src/train/resume.ts): resume from the newest, save on schedule, on stop and after the last step. */
  trainState?: TrainStateOptions;
}

export interface LoopResult {
  state: 'done' | 'diverged';
  steps: number; // optimizer steps completed
  tokens: number; // training tokens consumed (inputs, all positions)
  trainLoss: number; // mean loss over the last logging window
  /** Loss of every step, in order (the loss curve). */
  losses: number[];
  /** Median tokens/s over the timed steps (data loading included); NaN if none were timed. */
  tokensPerS: number;
  timedSteps: number;
  peakTensorBytes: number;
  /** tf.memory().numTensors after every step (flat when nothing leaks). */
  numTensors: number[];
  trainTimeS: number;
  evals: { step: number; split: string; metrics: SplitMetrics }[];
  /** Times this run was resumed from a training checkpoint (0: trained in one go). */
  resumes: number;
  /** metrics.jsonl time_s of an attempt is performance.now() from its start plus this (the time before the resume). */
  timeOffsetS: number;
  /** Step at which train.stop_at's target was reached and training ended early (state stays 'done'). */
  stoppedAt?: number;
}

/** Evaluate the model on `split` with the config's eval settings. */
export function evaluate(model: LanguageModel, data: TrainData, cfg: RunConfig, split: 'valid' | 'test'): SplitMetrics {
  const batchSize = cfg.eval.batch_size ?? cfg.train.batch_size;
  return splitMetrics(evaluateSplit(model, data, split, { batchSize, maxBatches: cfg.eval.batches }), data.kind);
}

export function round(x: number, digits = 6): number {
  return Number.isFinite(x) ? Number(x.toPrecision(digits)) : x;
}

export function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('training aborted');
}

/**
 * Let the event loop run once. tfjs's `await tensor.data()` on the cpu and wasm backends resolves
 * through microtasks only, so a loop of steps never gives signals (SIGTERM), IPC events (the
 * runner's death) or timers a turn; every step boundary calls this first.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * One optimizer step over `micro` batches: gradients of sum(nll) / (all scored tokens) summed over
 * the micro-batches (the same update as one batch of their union), clipped, applied. Returns
 * [loss, grad_norm] as one tensor (a single read-back per step).
 */
export function trainStep(
  model: LanguageModel,
  params: [string, tf.Variable][],
  opt: AdamW,
  micro: Batch[],
  clip: number,
  lr: number,
  checkpointActivations: boolean,
): tf.Tensor1D {
  return tf.tidy(() => {
    const scored = micro.reduce((n, b) => n + countScored(b.targets), 0);
    const vars = params.map(([, v]) => v);
    let loss: tf.Scalar = tf.scalar(0);
    let sums: tf.Tensor[] | undefined;
    for (const b of micro) {
      const { value, grads } = tf.variableGrads(() => {
        const x = tf.tensor2d(b.inputs, [b.batch, b.seqLen], 'int32');
        const y = tf.tensor2d(b.targets, [b.batch, b.seqLen], 'int32');
        const { logits, auxLoss } = model.forward(x, { checkpointActivations });
        const lm = tf.div(nllSum(logits, y), Math.max(1, scored)) as tf.Scalar;
        // The routed layers' balance loss is per micro-batch; average it over the micro-batches.
        return auxLoss ? (tf.add(lm, tf.div(auxLoss, micro.length)) as tf.Scalar) : lm;
      }, vars);
      loss = tf.add(loss, value) as tf.Scalar;
      const g = params.map(([, v]) => grads[v.name] ?? tf.zerosLike(v));
      sums = sums ? sums.map((s, i) => tf.add(s, g[i])) : g;
    }
    const { grads, norm } = clipByGlobalNorm(sums!, clip);
    opt.apply(new Map(params.map(([name], i) => [name, grads[i]])), lr);
    return tf.stack([loss, norm]) as tf.Tensor1D;
  });
}

export async function trainLoop(model: LanguageModel, data: TrainData, cfg: RunConfig, opts: LoopOptions): Promise<LoopResult> {
  const t = cfg.train;
  guardWasmHeap(); // a tensor that does not fit fails the run with one line, not heap corruption
  const params = [...model.weights];
  const opt = new AdamW(model.weights, t);
  const dataSeed = subSeed(cfg.seed, 'data');
  const tokensPerStep = t.batch_size * t.grad_accum * data.seqLen;
  const keeper = opts.trainState && new TrainState(opts.trainState, model.weights, opt, opts.log);
  // Everything that accumulates goes in one object: a checkpoint saves it whole (src/train/resume.ts).
  let p: LoopProgress = freshProgress();
  const start = performance.now();
  const origin = opts.startTime ?? start;
  let timeOffsetS = 0;
  try {
    const restored = keeper?.restore();
    if (restored) {
      p = restored.progress;
      timeOffsetS = p.elapsedS - (start - origin) / 1000;
      opts.log(`resumed from ${restored.file.split(/[\\/]/).slice(-2).join('/')} at step ${p.steps}/${t.steps} (resume ${p.resumes})`);
    }
  } catch (e) {
    opt.dispose();
    throw e;
  }
  let state: 'done' | 'diverged' = 'done';
  const elapsed = () => (performance.now() - origin) / 1000 + timeOffsetS;
  const snapshot = () => {
    p.trainTimeS = trainTimeBefore + (performance.now() - start) / 1000;
    p.elapsedS = elapsed();
    return p;
  };
  const trainTimeBefore = p.trainTimeS;
  const write = (line: Record<string, unknown>) => opts.metricsFile && appendJsonl(opts.metricsFile, line);
  /** The mean loss of the steps since the last logged line, as one metrics.jsonl line at `step`. */
  const logWindow = (step: number, lr: number, gradNorm: number, rate?: number) => {
    p.trainLoss = p.window.reduce((a, b) => a + b, 0) / p.window.length;
    p.window = [];
    write({
      step,
      tokens: p.tokens,
      time_s: round(elapsed()),
      train_loss: round(p.trainLoss),
      lr: round(lr),
      grad_norm: round(gradNorm),
      ...(rate !== undefined ? { tokens_per_s: round(rate) } : {}),
    });
  };
  const untimed = t.timing_warmup;
  const stop = stopRule(cfg);
  try {
    // A run resumed after its stop rule fired trains no further (its checkpoint was written at the stop).
    for (let step = p.steps; step < t.steps && p.stoppedAt === undefined; step++) {
      await nextTurn();
      if (opts.signal?.aborted) {
        // Stopped between steps: checkpoint (a rerun goes on from here), then keep the loss of the
        // steps since the last logged line (after the checkpoint, so a resume does not repeat it).
        if (keeper && step > 0) keeper.save(snapshot());
        const window = p.window;
        if (window.length)
          write({
            step,
            tokens: p.tokens,
            time_s: round(elapsed()),
            train_loss: round(window.reduce((a, b) => a + b, 0) / window.length),
            stopped: true,
          });
        checkAbort(opts.signal);
      }
      const lr = learningRate(t, step);
      const t0 = performance.now();
      const micro: Batch[] = [];
      for (let k = 0; k < t.grad_accum; k++) micro.push(data.trainBatch(step * t.grad_accum + k, t.batch_size, dataSeed));
      // Peak live tensor bytes of every step (observing the engine's byte counter costs nothing).
      const pk = await withPeakBytes(() => trainStep(model, params, opt, micro, t.clip, lr, t.checkpoint_activations));
      const out = pk.result;
      p.peakTensorBytes = Math.max(p.peakTensorBytes, pk.peakBytes);
      const [loss, norm] = await out.data();
      out.dispose();
      const dt = (performance.now() - t0) / 1000;
      p.steps = step + 1;
      p.tokens += tokensPerStep;
      p.losses.push(loss);
      p.numTensors.push(tf.memory().numTensors);
      p.gradNorm = norm;
      const gradNorm = norm;
      if (step >= untimed) p.stepRates.push(tokensPerStep / dt);
      p.window.push(loss);
      const rate = p.stepRates.length ? median(p.stepRates) : undefined;
      opts.onProgress?.({ step: step + 1, totalSteps: t.steps, loss, tokensPerS: rate, phase: 'train' });

      if (!Number.isFinite(loss)) {
        state = 'diverged';
        p.trainLoss = loss;
        write({
          step: step + 1,
          tokens: p.tokens,
          time_s: round(elapsed()),
          train_loss: null,
          nonfinite_loss: String(loss),
          lr: round(lr),
          grad_norm: Number.isFinite(gradNorm) ? round(gradNorm) : null,
        });
        opts.log(`step ${step + 1}/${t.steps}: loss ${loss} is not finite: diverged (lr ${lr.toExponential(3)}, grad norm ${gradNorm})`);
        break;
      }
      const last = step + 1 === t.steps;
      if ((step + 1) % t.log_every === 0 || step === 0 || last) {
        logWindow(step + 1, lr, gradNorm, rate);
        opts.log(
          `step ${step + 1}/${t.steps} loss ${p.trainLoss.toFixed(4)} lr ${lr.toExponential(2)} |g| ${gradNorm.toFixed(3)}` +
            (rate !== undefined ? ` ${rate.toFixed(0)} tok/s` : ''),
        );
      }
      // Periodic evaluations, and the stop rule's split at its checks (src/train/stop.ts).
      const splits = new Set<'valid' | 'test'>();
      if (cfg.eval.every > 0 && (step + 1) % cfg.eval.every === 0)
        splits.add(cfg.eval.splits.includes('valid') ? 'valid' : (cfg.eval.splits[0] ?? 'valid'));
      if (stop && checksAt(stop, step + 1)) splits.add(stop.split);
      if (last) splits.clear(); // the final evaluation is the caller's
      for (const split of splits) {
        opts.onProgress?.({ step: step + 1, totalSteps: t.steps, loss, phase: 'eval' });
        const m = evaluate(model, data, cfg, split);
        p.evals.push({ step: step + 1, split, metrics: m });
        write({ step: step + 1, tokens: p.tokens, time_s: round(elapsed()), split, ...roundMetrics(m, data.kind) });
        opts.log(`step ${step + 1} ${split}: loss ${m.loss.toFixed(4)}${m.bpb !== undefined ? ` bpb ${m.bpb.toFixed(4)}` : ''}`);
        if (stop && meets(stop, split, m)) p.stoppedAt = step + 1;
      }
      if (p.stoppedAt !== undefined) {
        const hit = p.evals.find((e) => e.step === p.stoppedAt && e.split === stop!.split)!;
        if (p.window.length) {
          // The steps since the last logged line end the run: log their loss as a last step would.
          logWindow(step + 1, lr, gradNorm);
        }
        opts.log(describeStop(stop!, p.stoppedAt, hit.metrics));
        keeper?.save(snapshot()); // as after the last step
        break;
      }
      // Periodic checkpoint, and one after the last step (a stop in the final evals or the bench
      // then resumes without training again).
      if (keeper && (last || keeper.due(step + 1))) keeper.save(snapshot());
    }
  } finally {
    opt.dispose();
  }
  snapshot();
  return {
    state,
    steps: p.steps,
    tokens: p.tokens,
    trainLoss: p.trainLoss,
    losses: p.losses,
    tokensPerS: median(p.stepRates),
    timedSteps: p.stepRates.length,
    peakTensorBytes: p.peakTensorBytes,
    numTensors: p.numTensors,
    trainTimeS: p.trainTimeS,
    evals: p.evals,
    resumes: p.resumes,
    timeOffsetS,
    ...(p.stoppedAt !== undefined ? { stoppedAt: p.stoppedAt } : {}),
  };
}

/** Split metrics for a metrics.jsonl line (`tokens` there means tokens trained, so eval counts are renamed). */
export function roundMetrics(m: SplitMetrics, kind: 'lm' | 'synthetic' = 'lm'): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) {
    if (typeof v !== 'number' || (k === 'exact_match' && kind === 'lm')) continue;
    out[k === 'tokens' || k === 'windows' ? `eval_${k}` : k] = round(v, 7);
  }
  return out;
}
