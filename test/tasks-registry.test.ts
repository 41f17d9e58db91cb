/**
 * The task registry (docs/tasks.md 6.1): one table drives the `task:` schema, the checks, the data
 * and the metrics each kind reports; src/tasks has no import cycle.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isEvalMetric, REGISTRY, resolveMetric } from '../src/metrics/names.ts';
import { TASKS, taskUnion, taskKindSchemas, taskDef } from '../src/tasks/kinds/registry.ts';
import { parseTask, taskSchema, validateTask } from '../src/tasks/schema.ts';
import { taskCatalog } from '../src/tasks/catalog.ts';
import { UserError } from '../src/errors.ts';

describe('task registry', () => {
  it('src/tasks has no import cycles (value or type-level)', () => {
    const deps = (file: string): string[] =>
      [...fs.readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^;]*?from '(\.[^']+)'/gms)].map((m) =>
        path.resolve(path.dirname(file), m[1]!),
      );
    const inTasks = (f: string) => f.includes(`${path.sep}src${path.sep}tasks${path.sep}`);
    const files = ['src/tasks', 'src/tasks/kinds'].flatMap((dir) =>
      fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.ts'))
        .map((f) => path.resolve(dir, f)),
    );
    const done = new Set<string>();
    const visit = (f: string, trail: string[]): void => {
      expect(trail, `cycle: ${[...trail, f].map((x) => path.relative('src', x)).join(' -> ')}`).not.toContain(f);
      if (done.has(f) || !inTasks(f)) return;
      for (const d of deps(f)) visit(d, [...trail, f]);
      done.add(f);
    };
    for (const f of files) visit(f, []);
    expect(done.size).toBeGreaterThan(10);
  });

  it('the union, the per-kind schemas and the catalog list exactly the table, in its order; lm is the default', () => {
    const kinds = TASKS.map((t) => t.kind);
    expect(taskUnion.options.length).toBe(kinds.length);
    taskUnion.options.forEach((o, i) => expect(o, kinds[i]).toBe(TASKS[i]!.schema));
    expect(Object.keys(taskKindSchemas)).toEqual(kinds);
    expect(taskCatalog().map((t) => t.kind)).toEqual(kinds);
    expect(taskSchema.parse(undefined).kind).toBe(kinds[0]);
    expect(() => parseTask({ kind: 'parity_of_nothing' })).toThrow(UserError);
  });

  it('every kind parses from its kind alone (defaults written once), passes its own checks, and names a source and licence', () => {
    for (const t of TASKS) {
      const cfg = parseTask({ kind: t.kind });
      expect(cfg.kind).toBe(t.kind);
      expect(() => validateTask(cfg), t.kind).not.toThrow();
      expect(taskDef(t.kind).seqLen(cfg)).toBeGreaterThan(1);
      expect(t.provenance.source.length, t.kind).toBeGreaterThan(10);
      expect(t.provenance.licence.length, t.kind).toBeGreaterThan(3);
    }
  });

  it('a kind reports evaluation metrics of the metric registry, each once; every evaluation metric is reported by some kind', () => {
    for (const t of TASKS) {
      expect(new Set(t.metrics).size, t.kind).toBe(t.metrics.length);
      for (const m of t.metrics) {
        const r = resolveMetric(`test_${m}`);
        expect(r?.def.name, `${t.kind}: ${m}`).toBe(m);
        expect(isEvalMetric(r!.def), `${t.kind}: ${m}`).toBe(true);
      }
      expect(t.metrics, t.kind).toContain('loss');
    }
    for (const m of REGISTRY.filter(isEvalMetric))
      expect(
        TASKS.some((t) => (t.metrics as readonly string[]).includes(m.name)),
        m.name,
      ).toBe(true);
    // bits per byte needs text bytes: only language modelling reports it; accuracy needs scored answers.
    for (const t of TASKS) expect(t.metrics.includes('bpb'), t.kind).toBe(t.family === 'lm');
    for (const t of TASKS) expect(t.metrics.includes('accuracy'), t.kind).toBe(t.family === 'synthetic');
  });

  it("a kind's cross-field check names the key under task.", () => {
    expect(() => validateTask(parseTask({ kind: 'mqar', seq_len: 31 }))).toThrow(/^task\.seq_len: MQAR needs an even input length/);
    expect(() => validateTask(parseTask({ kind: 'listops', min_len: 60 }))).toThrow(/^task\.min_len: /);
  });
});
