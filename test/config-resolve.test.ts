// The two resolution steps: validate and plan work from the config alone (no corpus is read), run
// adds the data step; every error found after parsing names file:line:col and the key.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, locate } from '../src/config/load.ts';
import { loadPlan } from '../src/config/plan.ts';
import { BYTES_PER_PARAM, WASM_HEAP_BYTES, backendMemory, checkMemory, estimateMemory } from '../src/config/memory.ts';
import { countParams } from '../src/models/params.ts';
import { UserError } from '../src/errors.ts';

const root = path.resolve(__dirname, '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-resolve-'));
const cacheDir = path.join(dir, 'cache');
function write(name: string, text: string | Buffer): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}
function seqlab(args: string[], cwd = dir) {
  const r = spawnSync(process.execPath, [path.join(root, 'bin/seqlab.js'), ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, SEQLAB_CACHE_DIR: cacheDir },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function expectOneLine(r: ReturnType<typeof seqlab>, pattern: RegExp) {
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/internal error|^\s+at /m);
}
const paragraphs = (n: number) => Array.from({ length: n }, (_, i) => `Paragraph ${i} of a small corpus.`).join('\n\n');
const tiny = 'model: { d_model: 16, n_layers: 1 }\ntrain: { steps: 1, batch_size: 2 }\nbench: { enabled: false }\n';

describe('validate and plan read no corpus; run reads it (the data step)', () => {
  it('an unreadable file: corpus passes validate and plan, and run fails with one located line', () => {
    // chmod 000 stops a normal user; root reads anyway, so the bytes are not UTF-8 either: any read fails.
    const corpus = write('data/locked.txt', Buffer.concat([Buffer.from(paragraphs(50)), Buffer.from([0xff, 0xfe])]));
    fs.chmodSync(corpus, 0o000);
    const f = write(
      'data/locked.yaml',
      `name: locked\ntask: { corpus: file:locked.txt, tokenizer: char, seq_len: 8 }\n${tiny}output: { root: ${path.join(dir, 'runs')} }\n`,
    );
    try {
      expect(seqlab(['validate', f]).code).toBe(0);
      const plan = seqlab(['plan', f]);
      expect(plan.code, plan.stderr).toBe(0);
      expect(plan.stdout).toMatch(/≥/); // the char vocabulary is a lower bound until the corpus is read
      const run = seqlab(['run', f]);
      expectOneLine(run, /locked\.yaml:2:\d+: task\.corpus: .*locked\.txt.*(cannot read|not valid UTF-8)/);
      expect(fs.existsSync(path.join(dir, 'runs', 'locked'))).toBe(false); // nothing written
    } finally {
      fs.chmodSync(corpus, 0o644);
    }
  });

  it('seq_len longer than the data: validate is silent, run names file:line:col and task.seq_len', () => {
    write('short/text.txt', paragraphs(40));
    const f = write('short/s.yaml', `name: short\ntask:\n  corpus: file:text.txt\n  seq_len: 1200\n${tiny}`);
    expect(seqlab(['validate', f]).code).toBe(0);
    expectOneLine(seqlab(['run', f]), /s\.yaml:4:12: task\.seq_len: 1200 is longer than the \w+ split/);
  });

  it('char runs keep their id from plan (no corpus) to run (exact vocabulary)', () => {
    write('ids/t.txt', paragraphs(60));
    const f = write('ids/c.yaml', `name: ids\ntask: { corpus: file:t.txt, tokenizer: char, seq_len: 8 }\n${tiny}`);
    const fresh = { ...process.env };
    process.env.SEQLAB_CACHE_DIR = path.join(dir, 'cache-ids');
    try {
      const pure = loadPlan(f, { data: false });
      expect(pure.runs[0].vocabExact).toBe(false);
      const full = loadPlan(f);
      expect(full.runs[0].vocabExact).toBe(true);
      expect(full.runs[0].id).toBe(pure.runs[0].id);
      expect(full.runs[0].config.model.vocab_size).toBeGreaterThan(pure.runs[0].config.model.vocab_size);
      // The size is remembered: the next plan is exact without reading the corpus.
      const again = loadPlan(f, { data: false });
      expect(again.runs[0].vocabExact).toBe(true);
      expect(again.runs[0].config.model.vocab_size).toBe(full.runs[0].config.model.vocab_size);
    } finally {
      process.env.SEQLAB_CACHE_DIR = fresh.SEQLAB_CACHE_DIR;
      if (fresh.SEQLAB_CACHE_DIR === undefined) delete process.env.SEQLAB_CACHE_DIR;
    }
  });
});

describe('file: corpora resolve from the config folder (as extends does)', () => {
  it('a relative path in a config or a base is read next to that file, stored absolute', () => {
    write('proj/corpora/a.txt', paragraphs(40));
    write('proj/base/lm.yaml', 'task: { corpus: file:../corpora/a.txt, seq_len: 16 }\n');
    const f = write('proj/exp/e.yaml', `extends: ../base/lm.yaml\nname: e\n${tiny}`);
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-cwd-'));
    const r = seqlab(['plan', f, '--json'], elsewhere);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).runs[0].config.task.corpus).toBe(`file:${path.join(dir, 'proj/corpora/a.txt')}`);
    // --set paths are typed in the shell: they resolve from the working directory.
    const s = seqlab(['plan', f, '--json', '--set', 'task.corpus=file:corpora/a.txt'], path.join(dir, 'proj'));
    expect(JSON.parse(s.stdout).runs[0].config.task.corpus).toBe(`file:${path.join(dir, 'proj/corpora/a.txt')}`);
    // And the data step finds it from anywhere.
    expect(() => loadPlan(f)).not.toThrow();
  });
});

describe('errors found after parsing name file:line:col', () => {
  it('odd MQAR length, heads divisibility, from a sweep axis, and an extends cycle', () => {
    expectOneLine(
      seqlab(['validate', write('mq.yaml', 'task:\n  kind: mqar\n  seq_len: 33\n')]),
      /mq\.yaml:3:12: task\.seq_len: MQAR needs an even input length/,
    );
    expectOneLine(
      seqlab(['plan', write('hd.yaml', 'model:\n  d_model: 30\n  heads: 4\n')]),
      /hd\.yaml:2:12: model\.d_model: 30 is not divisible by heads 4/,
    );
    expectOneLine(
      seqlab(['validate', write('ax.yaml', 'task: { kind: mqar }\nsweep:\n  zip:\n    task.seq_len: [32, 33]\n')]),
      /ax\.yaml:4:\d+ \(sweep value\): task\.seq_len: MQAR needs an even input length N \(got 33\) \[in task\.seq_len=33\]/,
    );
    write('cy1.yaml', 'name: a\nextends: [cy2.yaml]\n');
    write('cy2.yaml', 'name: b\nextends: cy1.yaml\n');
    expectOneLine(seqlab(['validate', 'cy1.yaml']), /^seqlab: error: cy2\.yaml:2:10: extends cycle: cy1\.yaml -> cy2\.yaml -> cy1\.yaml/);
  });
});

describe('locate', () => {
  it('a key is "--set" only when an override names it or a parent, not a key sharing its first letters', () => {
    const f = write('loc.yaml', 'name: loc\ntrain:\n  steps: 5\n');
    expect(locate(loadConfigFile(f, ['t=1']), ['train', 'steps'])).toMatch(/loc\.yaml:3:10$/);
    expect(locate(loadConfigFile(f, ['train=1']), ['train', 'steps'])).toBe('--set');
    expect(locate(loadConfigFile(f, ['train.steps=1']), ['train', 'steps'])).toBe('--set');
  });
});

describe('shapes that cannot be allocated', () => {
  it('validate refuses them naming the key and the sizes', () => {
    expectOneLine(
      seqlab(['validate', write('wide.yaml', 'model:\n  d_model: 1000000000\n')]),
      /wide\.yaml:2:12: model\.d_model: this shape cannot be allocated: it needs at least .*parameters.* more than 4\.0 GiB/,
    );
    expectOneLine(
      seqlab([
        'plan',
        write('batch.yaml', `model: { d_model: 64, n_layers: 1 }\ntrain:\n  batch_size: 10000000\nexecution: { backend: cpu }\n`),
      ]),
      /batch\.yaml:3:15: train\.batch_size: this shape cannot be allocated: .*attention scores 10000000 x 4 heads x 256 x 256.*machine's memory \(cpu backend\)/,
    );
    expectOneLine(
      seqlab(['validate', write('long.yaml', 'model: { d_model: 64, n_layers: 1 }\ntask:\n  seq_len: 100000\n')]),
      /long\.yaml:3:12: task\.seq_len: .*attention scores 16 x \d+ heads x 100000 x 100000/,
    );
    expectOneLine(
      seqlab(['validate', write('prefill.yaml', 'model: { d_model: 64, n_layers: 1 }\nbench:\n  prefill_lengths: [256, 100000]\n')]),
      /prefill\.yaml:3:20: bench\.prefill_lengths: .*prefill attention scores 1 x \d+ heads x 100000 x 100000/,
    );
  });

  it('the estimate: 16 bytes a parameter plus the largest activation, against the backend', () => {
    const [run] = loadPlan(
      write('est.yaml', 'model: { d_model: 64, n_layers: 2, heads: 4 }\ntask: { seq_len: 128 }\ntrain: { batch_size: 8 }\n'),
      { data: false },
    ).runs;
    const e = estimateMemory(run.config);
    expect(e.paramBytes).toBe(countParams(run.config.model).params * BYTES_PER_PARAM);
    // transformer: widest row is the vocabulary (257) vs FFN 4d = 256; scores 8 x 4 x 128 x 128.
    expect(e.activationBytes).toBe(Math.max(8 * 128 * 257, 8 * 4 * 128 * 128, 256 * 257, 4 * 256 * 256) * 4);
    expect(backendMemory('wasm').bytes).toBe(WASM_HEAP_BYTES);
    expect(backendMemory('cpu', 123e9).bytes).toBe(123e9);
    expect(() => checkMemory(run.config, { bytes: e.paramBytes + e.activationBytes, what: 'x' })).not.toThrow();
    expect(() => checkMemory(run.config, { bytes: e.paramBytes + e.activationBytes - 1, what: 'x' })).toThrow(UserError);
  });
});

describe('eval.batches vs task.eval_windows', () => {
  it('a disagreement prints a note saying what is evaluated', () => {
    const r = seqlab([
      'plan',
      write('ev.yaml', 'model: { d_model: 16, n_layers: 1 }\ntask: { eval_windows: 500 }\neval: { batches: 4, batch_size: 8 }\n'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /ev\.yaml: note: task\.eval_windows 500 and eval\.batches 4 x batch size 8 = 32 disagree: each split is evaluated on its first 32 windows \(4 batches/,
    );
    // Batches asked for that the (default) window count does not reach: 200 windows = 13 batches of 16.
    const b = seqlab(['validate', write('ev3.yaml', 'model: { d_model: 16, n_layers: 1 }\neval: { batches: 20 }\n')]);
    expect(b.code).toBe(0);
    expect(b.stderr).toMatch(/first 200 windows \(13 batches/);
    const m = seqlab(['validate', write('ev4.yaml', 'task: { kind: mqar, eval_examples: 1000 }\nmodel: { d_model: 16, n_layers: 1 }\n')]);
    expect(m.stderr).toMatch(
      /note: task\.eval_examples 1000 and eval\.batches 16 x batch size 16 = 256 disagree: each split is evaluated on its first 256 examples/,
    );
    const quiet = seqlab([
      'validate',
      write('ev2.yaml', 'model: { d_model: 16, n_layers: 1 }\ntask: { eval_windows: 32 }\neval: { batches: 4, batch_size: 8 }\n'),
    ]);
    expect(quiet.stderr).toBe('');
  });
});
