/**
 * From a config file to the list of runs: load (extends, --set), validate, expand the sweep,
 * resolve each run (task defaults, model preset -> explicit layers), give it its id.
 */
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { stringify as toYaml } from 'yaml';
import { UserError, UserErrors } from '../errors.ts';
import { absoluteCorpus, isUserCorpus } from '../tasks/corpus.ts';
import { runId } from './identity.ts';
import {
  dotted,
  getPath,
  keyExists,
  loadConfigFile,
  locate,
  malformedKey,
  parseConfig,
  setPath,
  splitKey,
  type LoadedConfig,
} from './load.ts';
import { resolveData, resolveRunFromConfig } from './resolve.ts';
import type { ExecutionConfig, ExperimentConfig, RunConfig, SweepConfig } from './schema.ts';
import { countPoints, expandSweep, sweepKeys, type SweepPoint } from './sweep.ts';
import { profileKeyErrors } from './profile-check.ts';
import { claimErrors } from './claims-check.ts';
import { stopErrors } from './stop.ts';

/** Sweeps are expanded (and each point validated) only up to this many times execution.max_runs. */
export const SWEEP_EXPANSION_FACTOR = 100;

export interface PlannedRun {
  id: string;
  /** 0-based position in the plan (stable order). */
  index: number;
  /** Dotted key -> value for the swept keys, plus `seed`. */
  axes: Record<string, unknown>;
  case?: string;
  config: RunConfig;
  /** false while model.vocab_size is a lower bound (char tokens before the data step). */
  vocabExact: boolean;
  /** Where each config key of this run is written (file:line:col, a sweep axis, or --set). */
  where: (keys: (string | number)[]) => string;
}

export interface Plan {
  name: string;
  root: string;
  sweepDir: string;
  runs: PlannedRun[];
  /** Points whose resolved config equals an earlier one (merged into it). */
  collapsed: number;
  /** Points dropped by sweep.exclude. */
  excluded: number;
  execution: ExecutionConfig;
  /** The config as written plus the CLI overrides. */
  sweepYaml: string;
  /** The swept keys, in axis order (for tables). */
  axisKeys: string[];
  /** Things the user should know that are not errors (printed by validate and plan). */
  notes: string[];
  /** Whether the data step ran (corpora read, vocabularies exact). */
  dataResolved: boolean;
}

export interface PlanOptions {
  set?: string[];
  /** Accept sweeps larger than execution.max_runs. */
  yes?: boolean;
  /**
   * Take the data step (read and tokenise corpora: seq_len against the data, exact char
   * vocabulary). Default true; validate and plan pass false and read no corpus.
   */
  data?: boolean;
  /** Backend whose memory bounds the shapes (default: execution.backend). */
  backend?: string;
  /** profiles.<name> to apply (after extends, before --set). */
  profile?: string;
}

export { resolveRun } from './resolve.ts';

/** Section names a located message may start with ("task.seq_len: ..."). */
const KEY_PREFIX = /^((?:name|task|model|train|eval|bench|seeds|sweep|execution|output)(?:\.[A-Za-z0-9_]+)*): /;

/** Prefix a message that starts with a dotted key with where that key is written. */
export function locateMessage(message: string, where: (keys: (string | number)[]) => string, fallback: string): string {
  const m = KEY_PREFIX.exec(message);
  return m ? `${where(splitKey(m[1]))}: ${message}` : `${fallback}: ${message}`;
}

function checkKeys(loaded: LoadedConfig, cfg: ExperimentConfig): void {
  const errors: string[] = [];
  for (const { key, where } of sweepKeys(cfg.sweep)) {
    const bad = malformedKey(key);
    if (bad) {
      errors.push(`${locate(loaded, where)}: ${dotted(where)}: malformed key (${bad})`);
      continue;
    }
    const keys = splitKey(key);
    if (keys[0] === 'sweep' || keys[0] === 'seeds' || keys[0] === 'extends') {
      errors.push(`${locate(loaded, where)}: ${dotted(where)}: "${key}" cannot be swept`);
      continue;
    }
    const { ok, suggestion } = keyExists(keys);
    if (!ok) {
      errors.push(
        `${locate(loaded, where)}: ${dotted(where)}: "${key}" names a config key that does not exist${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`,
      );
    }
  }
  errors.push(...profileKeyErrors(loaded, cfg), ...stopErrors(loaded, cfg), ...claimErrors(loaded, cfg));
  if (errors.length) throw new UserErrors(errors);
}

function describePoint(p: SweepPoint): string {
  const parts = Object.entries(p.values).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return (p.case ? `case ${p.case}` : '') + (parts.length ? `${p.case ? ': ' : ''}${parts.join(', ')}` : 'base config');
}

/** Where a key of one sweep point is written: at its sweep axis when the point sets it, else in the files. */
function pointLocator(loaded: LoadedConfig, point: SweepPoint, sweep: SweepConfig): (keys: (string | number)[]) => string {
  const caseIndex = point.case === undefined ? -1 : sweep.cases.findIndex((c) => c.name === point.case);
  return (keys) => {
    const key = dotted(keys);
    const axis = Object.keys(point.values).find((k) => key === k || key.startsWith(k + '.'));
    if (axis === undefined) return locate(loaded, keys);
    const c = caseIndex >= 0 ? sweep.cases[caseIndex] : undefined;
    const part = c ? (['set', 'grid', 'zip'] as const).find((p) => axis in c[p]) : axis in sweep.zip ? 'zip' : 'grid';
    return `${locate(loaded, c ? ['sweep', 'cases', caseIndex, part ?? 'set', axis] : ['sweep', part!, axis])} (sweep value)`;
  };
}

/**
 * A relative file:/dir: corpus is read from the folder of the file that names it (as `extends:`
 * is), from the working directory when --set names it; the resolved config stores the absolute path.
 */
function corpusBaseDir(loaded: LoadedConfig, point: SweepPoint): string {
  if (loaded.overrides.some((o) => /^\s*(task|task\.corpus|sweep\.grid\.task\.corpus|sweep\.zip\.task\.corpus)\s*=/.test(o)))
    return process.cwd();
  const keys = 'task.corpus' in point.values ? ['sweep'] : ['task', 'corpus'];
  for (let i = loaded.sources.length - 1; i >= 0; i--) {
    const src = loaded.sources[i];
    if (src.doc.hasIn(keys)) return path.dirname(path.resolve(src.file));
  }
  return process.cwd();
}

function withAbsoluteCorpus(cfg: ExperimentConfig, baseDir: string): ExperimentConfig {
  if (cfg.task.kind !== 'lm' || !isUserCorpus(cfg.task.corpus)) return cfg;
  return { ...cfg, task: { ...cfg.task, corpus: absoluteCorpus(cfg.task.corpus, baseDir) } };
}

/** The task's own evaluation set per split (what eval.batches caps): lm windows or fixed examples. */
function evalSet(task: RunConfig['task']): { key: string; size: number | 'all'; unit: string } | undefined {
  if (task.kind === 'lm') return { key: 'task.eval_windows', size: task.eval_windows, unit: 'windows' };
  if (task.kind === 'listops') return undefined; // valid and test sizes differ
  return { key: 'task.eval_examples', size: task.eval_examples, unit: 'examples' };
}

/**
 * What a run evaluates when a written task.eval_windows / eval_examples or eval.batches is not what
 * happens: each split gets min(set size, batches x eval batch size), in batches of that size.
 */
function evalNote(loaded: LoadedConfig, cfg: RunConfig): string | undefined {
  const set = evalSet(cfg.task);
  if (!set || set.size === 'all' || cfg.eval.batches === 'all') return undefined;
  const written = (k: string) =>
    getPath(loaded.raw, splitKey(k)) !== undefined || loaded.overrides.some((o) => o.trim().startsWith(k + '='));
  const bs = cfg.eval.batch_size ?? cfg.train.batch_size;
  const cap = cfg.eval.batches * bs;
  const n = Math.min(cap, set.size);
  const batches = Math.ceil(n / bs);
  const setCut = written(set.key) && cap < set.size;
  const batchesCut = (written('eval.batches') || written('eval.batch_size')) && batches < cfg.eval.batches;
  if (!setCut && !batchesCut) return undefined;
  return `note: ${set.key} ${set.size} and eval.batches ${cfg.eval.batches} x batch size ${bs} = ${cap} disagree: each split is evaluated on its first ${n} ${set.unit} (${batches} batches${set.unit === 'windows' ? '; fewer if the split is shorter' : ''})`;
}

export function planFromLoaded(loaded: LoadedConfig, opts: PlanOptions = {}): Plan {
  const where = (keys: (string | number)[]) => locate(loaded, keys);
  const base = parseConfig(loaded.raw, where);
  checkKeys(loaded, base);
  // A product of a few long axes is astronomically large: refuse it before expanding anything.
  const total = countPoints(base.sweep) * base.seeds.length;
  const hardLimit = SWEEP_EXPANSION_FACTOR * base.execution.max_runs;
  if (total > hardLimit) {
    throw new UserError(
      `${locate(loaded, ['sweep'])}: sweep: the sweep expands to ${total.toExponential(2)} points x seeds, more than ${SWEEP_EXPANSION_FACTOR} x execution.max_runs (${hardLimit}) even before exclusion; split it or raise execution.max_runs`,
    );
  }
  let points: SweepPoint[];
  try {
    points = expandSweep(base.sweep);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${locate(loaded, ['sweep'])}: ${e.message}`);
    throw e;
  }

  const runs: PlannedRun[] = [];
  const seen = new Set<string>();
  const evalNotes = new Set<string>();
  let collapsed = 0;
  let excluded = 0;
  for (const point of points) {
    let raw = loaded.raw;
    for (const [k, v] of Object.entries(point.values)) raw = setPath(raw, splitKey(k), v);
    const at = pointLocator(loaded, point, base.sweep);
    const suffix = point.case || Object.keys(point.values).length ? ` [in ${describePoint(point)}]` : '';
    let cfg: ExperimentConfig;
    try {
      cfg = parseConfig(raw, at);
    } catch (e) {
      if (e instanceof UserErrors) throw new UserErrors(e.messages.map((m) => `${m}${suffix}`));
      throw e;
    }
    if (base.sweep.exclude.some((ex) => Object.entries(ex).every(([k, v]) => isDeepStrictEqual(getPath(cfg, splitKey(k)), v)))) {
      excluded++;
      continue;
    }
    cfg = withAbsoluteCorpus(cfg, corpusBaseDir(loaded, point));
    for (const seed of base.seeds) {
      let resolved: ReturnType<typeof resolveRunFromConfig>;
      try {
        resolved = resolveRunFromConfig(cfg, seed, { backend: opts.backend });
      } catch (e) {
        if (e instanceof UserError) throw new UserError(`${locateMessage(e.message, at, loaded.file)}${suffix}`);
        throw e;
      }
      const { config, vocabExact } = resolved;
      const id = runId(config);
      if (seen.has(id)) {
        collapsed++;
        continue;
      }
      seen.add(id);
      const axes: Record<string, unknown> = { ...point.values };
      if (base.seeds.length > 1 || base.seeds[0] !== 0) axes.seed = seed;
      runs.push({ id, index: runs.length, axes, case: point.case, config, vocabExact, where: at });
      const note = evalNote(loaded, config);
      if (note) evalNotes.add(note);
    }
  }

  if (runs.length === 0) {
    const why =
      !base.sweep.base && base.sweep.cases.length === 0 ? 'sweep.base is false and there are no cases' : 'sweep.exclude removed every run';
    throw new UserError(`${loaded.file}: the sweep is empty (${why})`);
  }
  if (runs.length > base.execution.max_runs && !opts.yes) {
    throw new UserError(
      `${loaded.file}: the sweep has ${runs.length} runs, more than execution.max_runs (${base.execution.max_runs}); pass --yes to accept it`,
    );
  }

  const dataResolved = opts.data !== false;
  if (dataResolved) {
    const tag = (run: PlannedRun) =>
      Object.keys(run.axes).length || run.case ? ` [in run ${run.id}${run.case ? `, case ${run.case}` : ''}]` : '';
    resolveData(runs, (run, m) => `${locateMessage(m, run.where, loaded.file)}${tag(run)}`, {
      backend: opts.backend ?? base.execution.backend,
    });
  }

  const axisKeys = [...new Set(runs.flatMap((r) => Object.keys(r.axes)))];
  const sweepYaml =
    toYaml(loaded.raw) +
    (loaded.profile ? `# profile: ${loaded.profile.name}\n` : '') +
    (loaded.overrides.length ? `# overrides: ${loaded.overrides.map((o) => `--set ${o}`).join(' ')}\n` : '');
  const root = base.output.root;
  return {
    name: base.name,
    root,
    sweepDir: path.join(root, base.name),
    runs,
    collapsed,
    excluded,
    execution: base.execution,
    sweepYaml,
    axisKeys,
    notes: [...evalNotes]
      .slice(0, 1)
      .map((n) => `${loaded.file}: ${n}${evalNotes.size > 1 ? ` (and ${evalNotes.size - 1} more alike with other sizes)` : ''}`),
    dataResolved,
  };
}

export function loadPlan(file: string, opts: PlanOptions = {}): Plan {
  return planFromLoaded(loadConfigFile(file, opts.set ?? [], opts.profile), opts);
}
