/**
 * seqlab: compare sequence models from a YAML config. Every user error is one line on stderr and a
 * non-zero exit; stack traces only with --debug.
 */
import { Command, CommanderError } from 'commander';
import { UserError } from './errors.ts';
import { registerPlan } from './commands/plan.ts';
import { registerValidate } from './commands/validate.ts';
import { registerConfigReference } from './commands/reference.ts';
import { registerCompare } from './commands/compare.ts';
import { registerModels } from './commands/models.ts';
import { registerExec } from './commands/exec.ts';
import { registerReport } from './commands/report.ts';
import { registerRun } from './commands/run.ts';
import { registerStatus } from './commands/status.ts';

const program = new Command();
program
  .name('seqlab')
  .description('A command-line lab for comparing sequence models (Transformer, RetNet, Mamba, selective retention, hybrids)')
  .version('0.1.0')
  .option('--debug', 'show stack traces for errors')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerValidate(program);
registerPlan(program);
registerRun(program);
registerStatus(program);
registerExec(program);
registerReport(program);
registerModels(program);
registerCompare(program);
registerConfigReference(program);

function fail(message: string, code: number): never {
  for (const line of message.split('\n')) process.stderr.write(`seqlab: error: ${line}\n`);
  process.exit(code);
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exit(e.exitCode === 1 ? 2 : e.exitCode); // usage errors are bad input
  }
  if (process.argv.includes('--debug')) {
    console.error(e);
    process.exit(e instanceof UserError ? e.exitCode : 1);
  }
  if (e instanceof UserError) fail(e.message, e.exitCode);
  const err = e as Error;
  fail(`${err?.message ?? String(e)} (internal error; rerun with --debug for the stack trace)`, 1);
}
