/**
 * From a validated config to run configs, in two steps:
 *  - resolveRun: from the config alone (task constraints, model preset -> explicit layers, can the
 *    shape be allocated). `validate` and `plan` stop here and never read a corpus.
 *  - resolveData: what needs the data (an lm corpus read and tokenised: does seq_len fit every
 *    split, the exact char vocabulary). `run` and `submit` take this step before anything is written.
 * Errors of both name the dotted key first ("task.seq_len: ..."); the planner adds file:line:col.
 */
import { UserError, UserErrors } from '../errors.ts';
import { resolveModel } from '../models/spec.ts';
import { checkTaskData, configVocabSize, taskSeqLen, validateTask } from '../tasks/schema.ts';
import { canonicalJson } from './identity.ts';
import { backendMemory, checkMemory } from './memory.ts';
import type { ExperimentConfig, RunConfig } from './schema.ts';

/** A char vocabulary not read yet has at least one character, UNK and EOS. */
export const CHAR_VOCAB_LOWER_BOUND = 3;

export interface ResolveOptions {
  /** Backend whose memory bounds the shapes (default: the config's execution.backend). */
  backend?: string;
  cacheDir?: string;
}

export interface ResolvedRun {
  config: RunConfig;
  /** false when model.vocab_size is a lower bound until the data is read (char tokens). */
  vocabExact: boolean;
}

/** Resolve one validated config + seed from the config alone (throws UserError on impossible shapes). */
export function resolveRunFromConfig(cfg: ExperimentConfig, seed: number, opts: ResolveOptions = {}): ResolvedRun {
  validateTask(cfg.task);
  const known = configVocabSize(cfg.task, opts);
  const seqLen = taskSeqLen(cfg.task);
  const model = resolveModel(cfg.model, { vocabSize: known ?? CHAR_VOCAB_LOWER_BOUND, seqLen });
  const config: RunConfig = { name: cfg.name, seed, task: cfg.task, model, train: cfg.train, eval: cfg.eval, bench: cfg.bench };
  checkMemory(config, backendMemory(opts.backend ?? cfg.execution.backend));
  return { config, vocabExact: known !== undefined };
}

/** resolveRunFromConfig's run config (for tools that need no data step or do it themselves). */
export function resolveRun(cfg: ExperimentConfig, seed: number, opts: ResolveOptions = {}): RunConfig {
  return resolveRunFromConfig(cfg, seed, opts).config;
}

export interface DataRun {
  config: RunConfig;
  vocabExact?: boolean;
}

/**
 * The data step over planned runs: every distinct task is read once (checkTaskData); the exact
 * vocabulary replaces a lower bound, and the shape check is repeated with it. `where(run, message)`
 * turns an error into a located line. Every error at once.
 */
export function resolveData<R extends DataRun>(runs: R[], where: (run: R, message: string) => string, opts: ResolveOptions = {}): void {
  const vocab = new Map<string, number | Error>();
  const errors = new Set<string>();
  for (const run of runs) {
    const key = canonicalJson(run.config.task);
    if (!vocab.has(key)) {
      try {
        vocab.set(key, checkTaskData(run.config.task, opts).vocabSize);
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        vocab.set(key, e);
      }
    }
    const v = vocab.get(key)!;
    try {
      if (v instanceof Error) throw v;
      if (run.config.model.vocab_size !== v) {
        run.config.model.vocab_size = v;
        checkMemory(run.config, backendMemory(opts.backend ?? 'auto'));
      }
      run.vocabExact = true;
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      for (const m of e instanceof UserErrors ? e.messages : [e.message]) errors.add(where(run, m));
    }
  }
  if (errors.size) throw new UserErrors([...errors]);
}
