/**
 * From a config file to the list of runs: load (extends, --set), validate, expand the sweep,
 * resolve each run (task defaults, model preset -> explicit layers), give it its id.
 */
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { stringify as toYaml } from 'yaml';
import { UserError, UserErrors } from '../errors.ts';
import { resolveModel } from '../models/spec.ts';
import * as tasks from '../tasks/schema.ts';
import { runId } from './identity.ts';
import { dotted, getPath, keyExists, loadConfigFile, locate, parseConfig, setPath, splitKey, type LoadedConfig } from './load.ts';
import type { ExecutionConfig, ExperimentConfig, RunConfig } from './schema.ts';
import { expandSweep, sweepKeys, type SweepPoint } from './sweep.ts';
import { profileKeyErrors } from './profile-check.ts';
import { claimErrors } from '../claims/validate.ts';

export const PLAN_FORMAT_VERSION = 1;

export interface PlannedRun {
  id: string;
  /** 0-based position in the plan (stable order). */
  index: number;
  /** Dotted key -> value for the swept keys, plus `seed`. */
  axes: Record<string, unknown>;
  case?: string;
  config: RunConfig;
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
}

export interface PlanOptions {
  set?: string[];
  /** Accept sweeps larger than execution.max_runs. */
  yes?: boolean;
  /** profiles.<name> to apply (after extends, before --set). */
  profile?: string;
}

/** Resolve one validated config + seed into the run config (throws UserError on impossible shapes). */
export function resolveRun(cfg: ExperimentConfig, seed: number): RunConfig {
  const validate = (tasks as { validateTask?: (t: unknown) => void }).validateTask;
  validate?.(cfg.task);
  const vocabSize = tasks.taskVocabSize(cfg.task);
  const seqLen = tasks.taskSeqLen(cfg.task);
  const model = resolveModel(cfg.model, { vocabSize, seqLen });
  return { name: cfg.name, seed, task: cfg.task, model, train: cfg.train, eval: cfg.eval, bench: cfg.bench };
}

function checkKeys(loaded: LoadedConfig, cfg: ExperimentConfig): void {
  const errors: string[] = [];
  for (const { key, where } of sweepKeys(cfg.sweep)) {
    const keys = splitKey(key);
    if (keys[0] === 'sweep' || keys[0] === 'seeds' || keys[0] === 'extends') {
      errors.push(`${locate(loaded, where)}: ${dotted(where)}: "${key}" cannot be swept`);
      continue;
    }
    const { ok, suggestion } = keyExists(keys);
    if (!ok) {
      errors.push(`${locate(loaded, where)}: ${dotted(where)}: "${key}" names a config key that does not exist${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`);
    }
  }
  errors.push(...profileKeyErrors(loaded, cfg), ...claimErrors(loaded, cfg));
  if (errors.length) throw new UserErrors(errors);
}

function describePoint(p: SweepPoint): string {
  const parts = Object.entries(p.values).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return (p.case ? `case ${p.case}` : '') + (parts.length ? `${p.case ? ': ' : ''}${parts.join(', ')}` : 'base config');
}

export function planFromLoaded(loaded: LoadedConfig, opts: PlanOptions = {}): Plan {
  const where = (keys: (string | number)[]) => locate(loaded, keys);
  const base = parseConfig(loaded.raw, where);
  checkKeys(loaded, base);
  let points: SweepPoint[];
  try {
    points = expandSweep(base.sweep);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${locate(loaded, ['sweep'])}: ${e.message}`);
    throw e;
  }

  const runs: PlannedRun[] = [];
  const seen = new Set<string>();
  let collapsed = 0;
  let excluded = 0;
  for (const point of points) {
    let raw = loaded.raw;
    for (const [k, v] of Object.entries(point.values)) raw = setPath(raw, splitKey(k), v);
    let cfg: ExperimentConfig;
    try {
      cfg = parseConfig(raw, (keys) => {
        // A bad value that came from a sweep axis is reported at the axis.
        const axis = Object.keys(point.values).find((k) => dotted(keys).startsWith(k));
        return axis ? `${locate(loaded, ['sweep', point.case ? 'cases' : 'grid', axis])} (sweep value)` : where(keys);
      });
    } catch (e) {
      if (e instanceof UserErrors) throw new UserErrors(e.messages.map((m) => `${m} [in ${describePoint(point)}]`));
      throw e;
    }
    if (base.sweep.exclude.some((ex) => Object.entries(ex).every(([k, v]) => isDeepStrictEqual(getPath(cfg, splitKey(k)), v)))) {
      excluded++;
      continue;
    }
    for (const seed of base.seeds) {
      let config: RunConfig;
      try {
        config = resolveRun(cfg, seed);
      } catch (e) {
        if (e instanceof UserError) throw new UserError(`${loaded.file}: ${e.message} [in ${describePoint(point)}]`);
        throw e;
      }
      const id = runId(config);
      if (seen.has(id)) {
        collapsed++;
        continue;
      }
      seen.add(id);
      const axes: Record<string, unknown> = { ...point.values };
      if (base.seeds.length > 1 || base.seeds[0] !== 0) axes.seed = seed;
      runs.push({ id, index: runs.length, axes, case: point.case, config });
    }
  }

  if (runs.length === 0) {
    const why = !base.sweep.base && base.sweep.cases.length === 0 ? 'sweep.base is false and there are no cases' : 'sweep.exclude removed every run';
    throw new UserError(`${loaded.file}: the sweep is empty (${why})`);
  }
  if (runs.length > base.execution.max_runs && !opts.yes) {
    throw new UserError(
      `${loaded.file}: the sweep has ${runs.length} runs, more than execution.max_runs (${base.execution.max_runs}); pass --yes to accept it`,
    );
  }

  const axisKeys = [...new Set(runs.flatMap((r) => Object.keys(r.axes)))];
  const sweepYaml =
    toYaml(loaded.raw) + (loaded.profile ? `# profile: ${loaded.profile.name}\n` : '') +
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
  };
}

export function loadPlan(file: string, opts: PlanOptions = {}): Plan {
  return planFromLoaded(loadConfigFile(file, opts.set ?? [], opts.profile), opts);
}
