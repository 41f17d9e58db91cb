/**
 * seqlab: compare sequence models from a YAML config. Every user error is one line on stderr and a
 * non-zero exit; stack traces only with --debug.
 */
import * as fs from 'node:fs';
import { Command, CommanderError } from 'commander';
import { UserError, explainError } from './errors.ts';

/** command -> [module, register function]. Only the invoked command's module is loaded, so
 *  `validate` and `plan` start without loading TensorFlow.js. */
const COMMANDS: Record<string, [string, string]> = {
  validate: ['./commands/validate.ts', 'registerValidate'],
  plan: ['./commands/plan.ts', 'registerPlan'],
  run: ['./commands/run.ts', 'registerRun'],
  status: ['./commands/status.ts', 'registerStatus'],
  report: ['./commands/report.ts', 'registerReport'],
  compare: ['./commands/compare.ts', 'registerCompare'],
  bench: ['./commands/bench.ts', 'registerBench'],
  submit: ['./commands/submit.ts', 'registerSubmit'],
  exec: ['./commands/exec.ts', 'registerExec'],
  models: ['./commands/models.ts', 'registerModels'],
  tasks: ['./commands/tasks.ts', 'registerTasks'],
  data: ['./commands/data.ts', 'registerData'],
  generate: ['./commands/generate.ts', 'registerGenerate'],
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

/** Commands that take `--set KEY=VALUE` overrides. */
const SET_COMMANDS = new Set(['validate', 'plan', 'run', 'submit', 'bench']);
/** Commands that run models on a tfjs backend named by `--backend`. */
const BACKEND_COMMANDS = new Set(['run', 'exec', 'bench', 'generate']);

/**
 * A Hydra habit: `seqlab plan x.yaml train.lr=1e-3`. A positional KEY=VALUE (not an option's value,
 * not an existing file) gets the spelling seqlab wants instead of "no such file" or "too many arguments".
 */
export function positionalOverride(argv: string[]): string | undefined {
  const cmd = argv.find((a) => !a.startsWith('-'));
  if (!cmd || !SET_COMMANDS.has(cmd)) return undefined;
  const start = argv.indexOf(cmd) + 1;
  for (let i = start; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') break;
    const prev = argv[i - 1];
    if (i > start && prev.startsWith('-') && !prev.includes('=')) continue; // an option's value
    if (/^\+{0,2}[A-Za-z_][\w-]*(\.[\w-]+)*=/.test(a) && !fs.existsSync(a)) return a;
  }
  return undefined;
}

function fail(message: string, code: number): never {
  for (const line of message.split('\n')) process.stderr.write(`seqlab: error: ${line}\n`);
  process.exit(code);
}

// A backend asked for by name must load before any run starts (exit 2, not N failed runs).
program.hook('preAction', async (_program, action) => {
  if (!BACKEND_COMMANDS.has(action.name())) return;
  const opts = action.opts() as { backend?: unknown; set?: string[] };
  let backend = opts.backend;
  let where = '--backend';
  if (backend === undefined && action.name() === 'run' && typeof action.args[0] === 'string') {
    // execution.backend of the config (read from the config alone, as plan does).
    const { loadConfigFile, locate } = await import('./config/load.ts');
    const { planFromLoaded } = await import('./config/plan.ts');
    const loaded = loadConfigFile(action.args[0], opts.set ?? []);
    backend = planFromLoaded(loaded, { yes: true, data: false }).execution.backend;
    where = `${locate(loaded, ['execution', 'backend'])}: execution.backend`;
  }
  if (typeof backend === 'string' && backend !== 'auto' && backend !== 'cpu') {
    const { selectBackend } = await import('./backend/select.ts');
    try {
      await selectBackend(backend);
    } catch (e) {
      throw e instanceof UserError ? new UserError(`${where}: ${e.message}`) : e;
    }
  }
});

try {
  const positional = positionalOverride(process.argv.slice(2));
  if (positional) {
    const kv = positional.replace(/^\++/, '');
    throw new UserError(`${positional}: KEY=VALUE is not a positional argument here; use --set ${kv}`);
  }
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
  fail(`${explainError(e)} (internal error; rerun with --debug for the stack trace)`, 1);
}
