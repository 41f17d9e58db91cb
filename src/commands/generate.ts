/**
 * `seqlab generate RUN_DIR --prompt TEXT --tokens N`: sample from a trained run's checkpoint through
 * the decode path (prefill, then one model.step per token: KV cache / recurrent state).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import type { RunConfig } from '../config/schema.ts';
import { UserError } from '../errors.ts';
import { selectBackend } from '../backend/select.ts';
import { loadCheckpoint, readCheckpointMeta } from '../models/checkpoint.ts';
import { tokenizerFromState, type Tokenizer } from '../tasks/tokenizers.ts';
import { loadTask } from '../tasks/index.ts';
import { sampleIds, type SampleOptions } from '../train/sample.ts';

export { pickToken, sampleIds, type SampleOptions } from '../train/sample.ts';

interface GenerateCliOptions {
  prompt: string;
  tokens: string;
  temperature: string;
  topK?: string;
  seed: string;
  backend: string;
}

function num(name: string, v: string, check: (n: number) => boolean, what: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || !check(n)) throw new UserError(`generate: --${name} must be ${what} (got '${v}')`);
  return n;
}

export async function generateText(runDir: string, o: { prompt: string; sample: SampleOptions; backend?: string }): Promise<string> {
  const cfgFile = path.join(runDir, 'config.json');
  const ckpt = path.join(runDir, 'checkpoint');
  if (!fs.existsSync(cfgFile)) throw new UserError(`generate: ${runDir} is not a run directory (no config.json)`);
  if (!fs.existsSync(ckpt))
    throw new UserError(`generate: ${runDir} has no checkpoint/ (the run is not finished, or train.checkpoint was false)`);
  const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as RunConfig;
  if (cfg.task.kind !== 'lm') throw new UserError(`generate: task '${cfg.task.kind}' has no text tokenizer; generate needs an lm task`);
  // The tokenizer saved with the checkpoint (a copied run decodes without its corpus); checkpoints
  // from before it was saved rebuild it from the task.
  const saved = readCheckpointMeta(ckpt).tokenizer;
  let tok: Pick<Tokenizer, 'encode' | 'decode'>;
  if (saved) tok = tokenizerFromState(saved);
  else {
    const task = loadTask(cfg.task);
    if (!task.encode || !task.decode)
      throw new UserError(`generate: task '${cfg.task.kind}' has no text tokenizer; generate needs an lm task`);
    tok = { encode: task.encode, decode: task.decode };
  }
  await selectBackend(o.backend ?? 'auto');
  const model = loadCheckpoint(ckpt);
  try {
    const ids = sampleIds(model, tok.encode(o.prompt), o.sample);
    return tok.decode(ids);
  } finally {
    model.dispose();
  }
}

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description("sample text from a trained run's checkpoint (recurrent / KV-cache decode path)")
    .argument('<run_dir>', 'a run directory: runs/<sweep>/runs/<id>')
    .requiredOption('--prompt <text>', 'text to continue')
    .option('--tokens <n>', 'tokens to generate', '200')
    .option('--temperature <t>', 'sampling temperature (0 = greedy)', '0.8')
    .option('--top-k <k>', 'sample among the k most likely tokens only')
    .option('--seed <s>', 'sampling seed', '0')
    .option('--backend <name>', 'tfjs backend: auto, tensorflow, wasm, cpu, webgpu', 'auto')
    .addHelpText(
      'after',
      '\nExample:\n  $ seqlab generate runs/quickstart/runs/3f2a9c1b0d4e --prompt "The state of the Union is" --tokens 200 --temperature 0.8',
    )
    .action(async (runDir: string, opts: GenerateCliOptions) => {
      const sample: SampleOptions = {
        tokens: num('tokens', opts.tokens, (n) => Number.isInteger(n) && n > 0, 'a positive integer'),
        temperature: num('temperature', opts.temperature, (n) => n >= 0, 'a number >= 0'),
        topK: opts.topK === undefined ? undefined : num('top-k', opts.topK, (n) => Number.isInteger(n) && n > 0, 'a positive integer'),
        seed: num('seed', opts.seed, (n) => Number.isInteger(n) && n >= 0, 'a non-negative integer'),
      };
      const text = await generateText(runDir, { prompt: opts.prompt, sample, backend: opts.backend });
      process.stdout.write(opts.prompt + text + '\n');
    });
}
