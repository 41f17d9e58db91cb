import * as path from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { checkExitCode, evaluateClaims, type ClaimResult } from '../claims/evaluate.ts';
import { renderClaimsJson, renderClaimsMarkdown } from '../claims/render.ts';
import { loadClaimSource } from '../claims/source.ts';
import { reportsDir } from '../report/collect.ts';
import { writeFileAtomic } from '../util/fs.ts';
import { collect } from './options.ts';

export interface CheckOptions {
  strict?: boolean;
  json?: boolean;
  profile?: string;
  set?: string[];
}

/** Evaluate the claims of each argument; write reports/claims.{md,json} in the first sweep dir. */
export function checkClaims(args: string[], opts: CheckOptions): { results: ClaimResult[]; written: string[] } {
  const results: ClaimResult[] = [];
  let first: string | undefined;
  for (const arg of args) {
    const src = loadClaimSource(arg, opts);
    if (src.claims.length === 0) throw new UserError(`${arg}: the config has no claims: to check`);
    if (!src.runs.some((r) => r.state === 'done' || r.state === 'diverged')) throw new UserError(`${src.sweepDir}: no finished runs to check claims on yet (see seqlab status ${src.sweepDir})`);
    first ??= src.sweepDir;
    results.push(...evaluateClaims(src.claims, src.runs, src.where));
  }
  const out = reportsDir(first!);
  const written = [path.join(out, 'claims.md'), path.join(out, 'claims.json')];
  writeFileAtomic(written[0]!, renderClaimsMarkdown(results));
  writeFileAtomic(written[1]!, renderClaimsJson(results));
  return { results, written };
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description("evaluate a config's claims over seeds (one-sided Welch t-test); exit 1 when a claim fails")
    .argument('<sweep_dir_or_config...>', 'sweep directories (runs/<name>) or the config files they were run from')
    .option('--strict', 'inconclusive claims (n < 2 on a side) fail too')
    .option('--json', 'print the JSON record instead of the table')
    .option('--profile <name>', 'with a config file: apply profiles.<name> (as run did)')
    .option('--set <key=value>', 'with a config file: override a key (as run did); repeatable', collect, [])
    .addHelpText(
      'after',
      `
Exit codes: 0 every claim passes or is inconclusive, 1 a claim fails (or, with --strict, is
inconclusive), 2 invalid input (unknown metric, a selection that matches no run).

Examples:
  $ seqlab check runs/paper-zoology
  $ seqlab check configs/paper/zoology.yaml --profile smoke --strict`,
    )
    .action((args: string[], opts: CheckOptions) => {
      const { results, written } = checkClaims(args, opts);
      process.stdout.write(opts.json ? renderClaimsJson(results) : renderClaimsMarkdown(results));
      process.stderr.write(`wrote ${written.join(', ')}\n`);
      process.exitCode = checkExitCode(results, opts.strict);
    });
}
