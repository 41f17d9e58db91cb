import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import { registerTasks } from '../src/commands/tasks.ts';
import { registerData, formatDataReport } from '../src/commands/data.ts';
import { dataReport, type taskCatalog } from '../src/tasks/catalog.ts';
import { parseTask, taskKindSchemas } from '../src/tasks/schema.ts';
import { cachedBpeMerges } from '../src/tasks/tokenizers.ts';
import { loadTask } from '../src/tasks/index.ts';
import { UserError } from '../src/errors.ts';

const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-cmd-'));

async function runCli(args: string[]): Promise<string> {
  const program = new Command('seqlab').exitOverride();
  registerTasks(program);
  registerData(program);
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'seqlab', ...args]);
  } finally {
    process.stdout.write = write;
  }
  return out;
}

describe('seqlab tasks', () => {
  it('lists every task kind with every option, its default and a description', async () => {
    const json = JSON.parse(await runCli(['tasks', '--json'])) as { tasks: ReturnType<typeof taskCatalog>; corpora: { name: string }[] };
    expect(json.tasks.map((t) => t.kind)).toEqual(['lm', 'mqar', 'selective_copy', 'induction', 'listops', 'parity', 'modular_arithmetic']);
    for (const t of json.tasks) {
      const defaults = parseTask({ kind: t.kind }) as Record<string, unknown>;
      const keys = Object.keys(taskKindSchemas[t.kind as keyof typeof taskKindSchemas].shape).filter((k) => k !== 'kind');
      expect(t.options.map((o) => o.key)).toEqual(keys);
      for (const o of t.options) {
        expect(o.description.length).toBeGreaterThan(5);
        expect(o.default).toEqual(defaults[o.key]);
      }
    }
    expect(json.corpora.map((c) => c.name).slice(0, 3)).toEqual(['sotu', 'gutenberg', 'brown']);
    const text = await runCli(['tasks']);
    expect(text).toContain('num_kv_pairs');
    expect(text).toContain('RESEARCH / NON-COMMERCIAL');
  });
});

describe('seqlab data', () => {
  it('SOTU: split sizes of 5.4 and the reference floors of 5.6 (unigram 4.34, bigram 3.40, gzip ≈2.68)', async () => {
    const r = dataReport('sotu', { cacheDir });
    expect(r.splits.train).toMatchObject({ docs: 210, bytes: 9753648, tokens: 9753648 + 211 });
    expect(r.splits.valid).toMatchObject({ docs: 12, bytes: 490294 });
    expect(r.splits.test).toMatchObject({ docs: 11, bytes: 517470 });
    expect(r.floors.unigram_bpb).toBeCloseTo(4.34, 2);
    expect(r.floors.bigram_bpb).toBeCloseTo(3.4, 2);
    expect(Math.abs(r.floors.gzip_bpb - 2.68)).toBeLessThan(0.03);
    const text = formatDataReport(r);
    expect(text).toContain('9,753,648');
    expect(text).toContain('unigram 4.339');
    const cli = JSON.parse(await runCli(['data', 'sotu', '--json']));
    expect(cli.splits).toEqual(r.splits);
  });

  it('a user folder with the char tokenizer; bad corpus names and options are UserErrors', async () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-docs-'));
    for (let i = 0; i < 20; i++)
      fs.writeFileSync(path.join(d, `d${String(i).padStart(2, '0')}.txt`), `The ${i}th text, with some words.\n`.repeat(20));
    const r = dataReport(`dir:${d}`, { tokenizer: 'char', cacheDir });
    expect(r.splits.valid.docs).toBe(1);
    expect(r.splits.test.docs).toBe(1);
    expect(r.splits.train.tokens).toBe(r.splits.train.chars + r.splits.train.docs + 1);
    expect(r.floors.bigram_bpb).toBeLessThan(r.floors.unigram_bpb);
    expect(() => dataReport('enwik9')).toThrow(UserError);
    await expect(runCli(['data', 'sotu', '--bpe-vocab', '12'])).rejects.toThrow(/--bpe-vocab/);
  });
});

describe('BPE cache (datasets/cache)', () => {
  it('merges are stored once and read back by hash of (version, vocabulary, training text)', () => {
    const texts = ['the cat sat on the mat; the cat ate the rat'];
    const a = cachedBpeMerges(texts, 270, cacheDir, 'toy');
    expect(fs.existsSync(a.file!)).toBe(true);
    const stored = JSON.parse(fs.readFileSync(a.file!, 'utf8'));
    expect(stored.merges).toEqual(a.merges);
    stored.merges = [[116, 104]];
    fs.writeFileSync(a.file!, JSON.stringify(stored));
    expect(cachedBpeMerges(texts, 270, cacheDir, 'toy').merges).toEqual([[116, 104]]);
    expect(cachedBpeMerges(texts, 271, cacheDir, 'toy').file).not.toBe(a.file);
  });

  it('an lm task with BPE tokens trains on the training split and reports bytes for bpb', () => {
    const t = loadTask(parseTask({ tokenizer: 'bpe', bpe_vocab: 512, seq_len: 128 }), { cacheDir });
    expect(t.vocabSize).toBe(512);
    expect(fs.readdirSync(cacheDir).some((f) => f.startsWith('bpe-'))).toBe(true);
    const b = t.trainBatch(0, 2, 0);
    const text = t.decode!(b.targets.subarray(0, 128));
    expect(b.scoredBytes).toBeGreaterThan(2 * 128 * 2); // a 512-id BPE packs > 2 bytes per token on SOTU
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(b.scoredBytes!);
    expect(t.describe()).toMatchObject({ tokenizer: 'bpe', vocab_size: 512 });
  });
});
