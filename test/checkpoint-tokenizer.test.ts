// Complete records: the checkpoint carries the tokenizer (BPE merges, char alphabet) and the run's
// seed, so `generate` on a copied run directory decodes without the corpus.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select.ts';
import { generateText } from '../src/commands/generate.ts';
import { loadPlan } from '../src/config/plan.ts';
import type { RunConfig } from '../src/config/schema.ts';
import { readCheckpointMeta } from '../src/models/checkpoint.ts';
import { lmTokenizer } from '../src/tasks/kinds/lm.ts';
import { tokenizerFromState } from '../src/tasks/tokenizers.ts';
import { runTraining } from '../src/train/run.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-ckpt-tok-'));

function config(tokenizer: string, seed: number): RunConfig {
  const corpus = path.join(tmp, 'corpus');
  fs.mkdirSync(corpus, { recursive: true });
  const words = ['the', 'state', 'of', 'union', 'is', 'strong', 'and', 'we', 'will', 'build', 'together', 'café'];
  for (let d = 0; d < 4; d++) {
    // paragraphs: the split of a small folder is within each file at paragraph boundaries
    const paras = Array.from(
      { length: 40 },
      (_, p) => Array.from({ length: 30 }, (_, i) => words[(i * 7 + p * 5 + d * 3) % words.length]).join(' ') + '.',
    );
    fs.writeFileSync(path.join(corpus, `doc${d}.txt`), paras.join('\n\n') + '\n');
  }
  const file = path.join(tmp, `cfg-${tokenizer}.yaml`);
  fs.writeFileSync(
    file,
    [
      'name: tok',
      `seeds: [${seed}]`,
      `task: { kind: lm, corpus: "dir:${corpus}", tokenizer: ${tokenizer}, bpe_vocab: 300, seq_len: 16, eval_windows: 2 }`,
      'model: { preset: retnet, d_model: 16, n_layers: 1 }',
      'train: { steps: 2, batch_size: 2, warmup: 1, log_every: 1, timing_warmup: 0 }',
      'eval: { batches: 1, batch_size: 2 }',
      'bench: { enabled: false }',
    ].join('\n'),
  );
  return loadPlan(file, {}).runs[0]!.config;
}

beforeAll(async () => {
  await selectBackend('wasm');
});

describe('checkpoint records', () => {
  it.each([
    ['bpe', 3],
    ['char', 0],
  ])(
    '%s: the tokenizer and the run seed travel with the checkpoint; generate decodes a copied run',
    async (tokenizer, seed) => {
      const cfg = config(tokenizer as string, seed as number);
      const dir = path.join(tmp, `run-${tokenizer}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
      const res = await runTraining(cfg, dir, { backend: 'wasm', log: () => {} });
      expect(res.state).toBe('done');
      const meta = readCheckpointMeta(path.join(dir, 'checkpoint'));
      expect(meta.seed).toBe(seed);
      expect(meta.initSeed).not.toBe(seed); // the derived init seed is kept apart
      const original = lmTokenizer(cfg.task as Parameters<typeof lmTokenizer>[0]).tok;
      expect(meta.tokenizer).toEqual(original.state());
      if (tokenizer === 'bpe') expect((meta.tokenizer as { merges: unknown[] }).merges.length).toBeGreaterThan(10);
      const rebuilt = tokenizerFromState(meta.tokenizer!);
      const text = 'we will build the union together, café';
      expect(Array.from(rebuilt.encode(text))).toEqual(Array.from(original.encode(text)));
      // A copy of the run whose corpus is gone: generate must not need it.
      const copy = path.join(tmp, `copy-${tokenizer}`);
      fs.cpSync(dir, copy, { recursive: true });
      const moved = JSON.parse(fs.readFileSync(path.join(copy, 'config.json'), 'utf8'));
      moved.task.corpus = `dir:${path.join(tmp, 'no-such-corpus')}`;
      fs.writeFileSync(path.join(copy, 'config.json'), JSON.stringify(moved));
      const out = await generateText(copy, { prompt: 'the state', sample: { tokens: 5, temperature: 0, seed: 0 }, backend: 'wasm' });
      const direct = await generateText(dir, { prompt: 'the state', sample: { tokens: 5, temperature: 0, seed: 0 }, backend: 'wasm' });
      expect(out).toBe(direct);
      expect(out.length).toBeGreaterThan(0);
    },
    60_000,
  );
});
