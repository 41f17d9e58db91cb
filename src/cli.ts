/**
 * seqlab: compare sequence models from a YAML config. Every user error is one line on stderr and a
 * non-zero exit; stack traces only with --debug.
 */
import { Command, CommanderError } from 'commander';
import { checkBackendLoads, checkNoPositionalOverride } from './commands/args.ts';
import { UserError, diskUserError, explainError } from './errors.ts';

/** command -> [module, register function]. Only the invoked command's module is loaded, so
 *  `validate` and `plan` start without loading TensorFlow.js. */
const COMMANDS: Record<string, [string, string]> = {
  validate: ['./commands/validate.ts', 'registerValidate'],
  plan: ['./commands/plan.ts', 'registerPlan'],
  run: ['./commands/run.ts', 'registerRun'],
  status: ['./commands/status.ts', 'registerStatus'],
  report: ['./commands/report.ts', 'registerReport'],
  compare: ['./commands/compare.ts', 'registerCompare'],
  export: ['./commands/export.ts', 'registerExport'],
  bench: ['./commands/bench.ts', 'registerBench'],
  submit: ['./commands/submit.ts', 'registerSubmit'],
  exec: ['./commands/exec.ts', 'registerExec'],
  models: ['./commands/models.ts', 'registerModels'],
  tasks: ['./commands/tasks.ts', 'registerTasks'],
  data: ['./commands/data.ts', 'registerData'],
  generate: ['./commands/generate.ts', 'registerGenerate'],
  check: ['./commands/check.ts', 'registerCheck'],
  'config-reference': ['./commands/reference.ts', 'registerConfigReference'],
};

const program = new Command();
program
  .name('seqlab')
  .description('A command-line lab for comparing sequence models (Transformer, RetNet, Mamba, selective retention, hybrids)')
  .version('0.1.0')
  .option('--debug', 'show stack traces for errors')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

function fail(message: string, code: number): never {
  for (const line of message.split('\n')) process.stderr.write(`seqlab: error: ${line}\n`);
  process.exit(code);
}

// A backend asked for by name must load before any run starts (exit 2, not N failed runs).
program.hook('preAction', (_program, action) => checkBackendLoads(action));
// The user's command line, for env.json of every run (worker processes inherit the environment).
process.env.SEQLAB_ARGV ??= JSON.stringify(['seqlab', ...process.argv.slice(2)]);

try {
  checkNoPositionalOverride(process.argv.slice(2));
  const invoked = process.argv.slice(2).find((a) => !a.startsWith('-'));
  const names = invoked && COMMANDS[invoked] ? [invoked] : Object.keys(COMMANDS);
  for (const name of names) {
    const [file, fn] = COMMANDS[name];
    const mod = (await import(file)) as Record<string, (p: Command) => void>;
    mod[fn](program);
  }
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
  const disk = diskUserError(e); // disk full, read-only or unwritable folder: the user's to fix
  if (disk) fail(disk.message, disk.exitCode);
  fail(`${explainError(e)} (internal error; rerun with --debug for the stack trace)`, 1);
}
