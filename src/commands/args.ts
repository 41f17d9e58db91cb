/**
 * Argument habits checked before a command runs: a Hydra-style positional KEY=VALUE, and a
 * `--backend` (or execution.backend) that cannot load. Both are bad input: one line, exit 2.
 */
import * as fs from 'node:fs';
import type { Command } from 'commander';
import { UserError } from '../errors.ts';

/** Commands that take `--set KEY=VALUE` overrides. */
const SET_COMMANDS = new Set(['validate', 'plan', 'run', 'submit', 'bench']);
/** Commands that run models on a tfjs backend named by `--backend`. */
const BACKEND_COMMANDS = new Set(['run', 'exec', 'bench', 'generate']);

/**
 * `seqlab plan x.yaml train.lr=1e-3` (Hydra's spelling): a positional KEY=VALUE that is not an
 * option's value and not an existing file. Returns it, or undefined.
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

/** Says "use --set KEY=VALUE" instead of "no such file" or "too many arguments". */
export function checkNoPositionalOverride(argv: string[]): void {
  const p = positionalOverride(argv);
  if (p) throw new UserError(`${p}: KEY=VALUE is not a positional argument here; use --set ${p.replace(/^\++/, '')}`);
}

/**
 * The backend a command will use must load (src/backend/select.ts decides) before any run starts.
 * `run` without --backend takes execution.backend from the config (read from the config alone).
 */
export async function checkBackendLoads(action: Command): Promise<void> {
  if (!BACKEND_COMMANDS.has(action.name())) return;
  const opts = action.opts() as { backend?: unknown; set?: string[] };
  let backend = opts.backend;
  let where = '--backend';
  if (backend === undefined && action.name() === 'run' && typeof action.args[0] === 'string') {
    const { loadConfigFile, locate, parseConfig } = await import('../config/load.ts');
    const loaded = loadConfigFile(action.args[0], opts.set ?? []);
    backend = parseConfig(loaded.raw, (keys) => locate(loaded, keys)).execution.backend;
    where = `${locate(loaded, ['execution', 'backend'])}: execution.backend`;
  }
  // Only the optional backends can be missing (cpu and wasm are dependencies; auto falls back).
  if (typeof backend !== 'string' || ['auto', 'cpu', 'wasm'].includes(backend)) return;
  const { selectBackend } = await import('../backend/select.ts');
  try {
    await selectBackend(backend);
  } catch (e) {
    throw e instanceof UserError ? new UserError(`${where}: ${e.message}`) : e;
  }
}
