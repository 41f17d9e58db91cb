import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalJson, runId } from '../src/config/identity.ts';
import { loadPlan } from '../src/config/plan.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-id-'));
function planOf(text: string, set: string[] = [], data = true) {
  const file = path.join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(file, text);
  return loadPlan(file, { set, data });
}

describe('run identity', () => {
  it('is 12 hex characters', () => {
    expect(planOf('name: a\n').runs[0].id).toMatch(/^[0-9a-f]{12}$/);
  });

  it('canonical JSON sorts keys and normalises numbers', () => {
    expect(canonicalJson({ b: 1, a: { d: 1e-3, c: [2, -0] } })).toBe('{"a":{"c":[2,0],"d":0.001},"b":1}');
    expect(canonicalJson({ x: -Infinity })).toBe('{"x":"-Infinity"}');
  });

  it('is stable under key reordering in the YAML', () => {
    const a = planOf('train: { lr: 0.002, steps: 7 }\nmodel: { d_model: 32, n_layers: 2 }\n');
    const b = planOf('model: { n_layers: 2, d_model: 32 }\ntrain: { steps: 7, lr: 0.002 }\n');
    expect(a.runs[0].id).toBe(b.runs[0].id);
  });

  it('is stable under 1e-3 vs 0.001 and under explicit defaults', () => {
    expect(planOf('train: { lr: 1e-3 }\n').runs[0].id).toBe(planOf('train: { lr: 0.001 }\n').runs[0].id);
    expect(planOf('train: { batch_size: 16 }\n').runs[0].id).toBe(planOf('name: x\n').runs[0].id);
  });

  it('changes when any value changes', () => {
    const base = planOf('name: a\n').runs[0].id;
    for (const set of ['train.lr=0.0031', 'train.steps=201', 'seeds=[1]', 'model.d_model=128', 'eval.batches=3', 'bench.decode_tokens=8']) {
      expect(planOf('name: a\n', [set]).runs[0].id, set).not.toBe(base);
    }
  });

  it('leaves out a char vocabulary (known only once the corpus is read), and only that', () => {
    const char = planOf('task: { tokenizer: char }\n', [], false).runs[0];
    expect(runId({ ...char.config, model: { ...char.config.model, vocab_size: 97 } })).toBe(char.id);
    expect(runId({ ...char.config, model: { ...char.config.model, d_model: 8 } })).not.toBe(char.id);
    const byte = planOf('name: a\n').runs[0];
    expect(runId({ ...byte.config, model: { ...byte.config.model, vocab_size: 300 } })).not.toBe(byte.id);
  });

  it('is unaffected by output.root, the sweep name and execution settings', () => {
    const a = planOf('name: a\n').runs[0];
    const b = planOf('name: b\noutput: { root: /tmp/elsewhere }\nexecution: { jobs: 3, timeout: 1h }\n').runs[0];
    expect(b.id).toBe(a.id);
    expect(runId({ ...a.config, name: 'zzz' })).toBe(a.id);
  });
});
