import * as path from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { checkExitCode, CORRECTIONS, finishClaims, testClaims, type ClaimResult, type Correction } from '../claims/evaluate.ts';
import { renderClaimsJson, renderClaimsMarkdown, verdictCell } from '../claims/render.ts';
import { loadClaimSource } from '../claims/source.ts';
import { reportsDir } from '../report/collect.ts';
import { writeFileAtomic } from '../util/fs.ts';
import { collect } from './options.ts';

export interface CheckOptions {
  strict?: boolean;
  json?: boolean;
  profile?: string;
  set?: string[];
  correction?: string;
}

/** Evaluate the claims of each argument; write reports/claims.{md,json} in the first sweep dir. */
export function checkClaims(args: string[], opts: CheckOptions): { results: ClaimResult[]; written: string[] } {
  const correction = (opts.correction ?? 'holm') as Correction;
  if (!CORRECTIONS.includes(correction)) throw new UserError(`--correction ${opts.correction}: expected one of ${CORRECTIONS.join(', ')}`);
  const raw: ClaimResult[] = [];
  let first: string | undefined;
  for (const [group, arg] of args.entries()) {
    const src = loadClaimSource(arg, opts);
    if (src.claims.length === 0) throw new UserError(`${arg}: the config has no claims: to check`);
    if (!src.runs.some((r) => r.state === 'done' || r.state === 'diverged'))
      throw new UserError(`${src.sweepDir}: no finished runs to check claims on yet (see seqlab status ${src.sweepDir})`);
    first ??= src.sweepDir;
    raw.push(...testClaims(src.claims, src.runs, src.where, group));
  }
  // One family for the correction: every claim this check reports on (docs/runner.md 6.1).
  const results = finishClaims(raw, correction);
  const out = reportsDir(first!);
  const written = [path.join(out, 'claims.md'), path.join(out, 'claims.json')];
  writeFileAtomic(written[0]!, renderClaimsMarkdown(results));
  writeFileAtomic(written[1]!, renderClaimsJson(results));
  return { results, written };
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description(
      "evaluate a config's claims over seeds (one-sided Welch t-test, Holm-corrected, preconditions gate); exit 1 when a claim fails or is invalid",
    )
    .argument('<sweep_dir_or_config...>', 'sweep directories (runs/<name>) or the config files they were run from')
    .option('--strict', 'inconclusive claims (n < 2 on a side) fail too')
    .option('--json', 'print the JSON record instead of the table')
    .option('--profile <name>', 'with a config file: apply profiles.<name> (as run did)')
    .option('--set <key=value>', 'with a config file: override a key (as run did); repeatable', collect, [])
    .option('--correction <holm|none>', 'correction for multiplicity over the claims of this check', 'holm')
    .addHelpText(
      'after',
      `
Exit codes: 0 every claim passes or is inconclusive, 1 a claim fails or is invalid (a
precondition it requires did not pass) or, with --strict, is inconclusive, 2 invalid input
(unknown metric, a selection that matches no run, an unknown --correction).

Examples:
  $ seqlab check runs/paper-zoology
  $ seqlab check configs/paper/zoology.yaml --profile smoke --strict`,
    )
    .action((args: string[], opts: CheckOptions) => {
      const { results, written } = checkClaims(args, opts);
      process.stdout.write(opts.json ? renderClaimsJson(results) : renderClaimsMarkdown(results));
      for (const r of results) if (r.verdict === 'invalid') process.stderr.write(`${r.name}: ${verdictCell(r)}\n`);
      process.stderr.write(`wrote ${written.join(', ')}\n`);
      process.exitCode = checkExitCode(results, opts.strict);
    });
}
