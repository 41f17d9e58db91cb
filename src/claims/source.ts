/**
 * Where `check` and `report` find claims: a config file (claims as written, with --profile and
 * --set applied; runs restricted to the config's plan) or a sweep directory (claims of its newest
 * sweep*.yaml, the config a `seqlab run` recorded, and the runs of that config).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors.ts';
import type { Claim } from '../config/claims.ts';
import { loadConfigFile, locate, parseConfig } from '../config/load.ts';
import { planFromLoaded } from '../config/plan.ts';
import { collectRuns, type ReportRun } from '../report/collect.ts';

export interface ClaimSource {
  sweepDir: string;
  claims: Claim[];
  /** file:line:col of claims[i] (for error lines). */
  where: (i: number) => string;
  runs: ReportRun[];
}

export function isConfigFile(arg: string): boolean {
  return /\.ya?ml$/i.test(arg) && !(fs.existsSync(arg) && fs.statSync(arg).isDirectory());
}

/** The config a sweep directory was run with: sweep.yaml, or the newest sweep.<hash>.yaml beside it. */
export function sweepConfigFile(sweepDir: string): string {
  if (!fs.existsSync(sweepDir)) throw new UserError(`no such sweep directory: ${sweepDir}`);
  const files = fs
    .readdirSync(sweepDir)
    .filter((f) => /^sweep(\.[0-9a-f]+)?\.yaml$/.test(f))
    .map((f) => path.join(sweepDir, f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  if (files.length === 0) throw new UserError(`${sweepDir} is not a sweep directory (no sweep.yaml)`);
  return files[0]!;
}

export function loadClaimSource(arg: string, opts: { set?: string[]; profile?: string } = {}): ClaimSource {
  if (isConfigFile(arg)) {
    const loaded = loadConfigFile(arg, opts.set ?? [], opts.profile);
    const plan = planFromLoaded(loaded, { yes: true });
    const cfg = parseConfig(loaded.raw, (keys) => locate(loaded, keys));
    const ids = new Set(plan.runs.map((r) => r.id));
    const runs = collectRuns([plan.sweepDir]).filter((r) => ids.has(r.id));
    return { sweepDir: plan.sweepDir, claims: cfg.claims, where: (i) => `${locate(loaded, ['claims', i])}: claims.${i}`, runs };
  }
  if (opts.profile !== undefined || (opts.set ?? []).length > 0) {
    throw new UserError(`${arg}: --profile and --set apply to a config file; a sweep directory already holds its resolved config`);
  }
  // The recorded config is re-planned for its run ids: a sweep directory keeps the runs of every
  // config ever run into it, and the claims are about this config's runs only.
  const file = sweepConfigFile(arg);
  const loaded = loadConfigFile(file);
  const cfg = parseConfig(loaded.raw, (keys) => locate(loaded, keys));
  const ids = new Set(planFromLoaded(loaded, { yes: true }).runs.map((r) => r.id));
  const runs = collectRuns([arg]).filter((r) => ids.has(r.id));
  return { sweepDir: arg, claims: cfg.claims, where: (i) => `${locate(loaded, ['claims', i])}: claims.${i}`, runs };
}
