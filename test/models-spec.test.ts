import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseConfig } from '../src/config/load.ts';
import { storedModelProblem } from '../src/models/checkpoint.ts';
import { UserError, UserErrors } from '../src/errors.ts';
import { decodeStateFloats, flopsPerToken, layerFlops, mixerFlops } from '../src/models/flops.ts';
import { FIELD_KINDS, MIXER_KINDS, MIXERS, mixerFieldSchema, mixerOverridesSchema, type MixerSpec } from '../src/models/kinds/registry.ts';
import { layerSchema, parallelSchema, patternSchema, routedSchema, type PatternInput } from '../src/models/layer.ts';
import { countParams, layerParams } from '../src/models/params.ts';
import { expandPattern, ratioOffsets, summarizeLayers } from '../src/models/patterns.ts';
import { PRESETS } from '../src/models/presets.ts';
import type { LayerSpec, ResolvedModel } from '../src/models/resolved.ts';
import { modelSchema, resolveModelInput, type ModelConfigInput } from '../src/models/spec.ts';

const ctx = { vocabSize: 257, seqLen: 256 };
const resolve = (m: ModelConfigInput, c = ctx) => resolveModelInput(m, c);
const kinds = (m: ResolvedModel) =>
  m.layers.map((l) => (l.mixer.kind === 'parallel' || l.mixer.kind === 'routed' ? l.mixer.kind : l.mixer.kind));
const mixerOf = (l: LayerSpec) => l.mixer as MixerSpec;

function expectUserError(fn: () => unknown, key: string): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(UserError);
  expect((err as Error).message).toContain(key);
  expect((err as Error).message).not.toContain('\n');
}

describe('T18 pattern expansion', () => {
  it('jamba with n_layers 16 puts attention (rope off) at layers 4 and 12, Mamba elsewhere, FFN only on attention', () => {
    const m = resolve({ preset: 'jamba', n_layers: 16 });
    const attn = m.layers.flatMap((l, i) => (l.mixer.kind === 'attn' ? [i] : []));
    expect(attn).toEqual([4, 12]);
    expect(m.layers.filter((l) => l.mixer.kind === 'mamba')).toHaveLength(14);
    expect(mixerOf(m.layers[4]!)).toMatchObject({ kind: 'attn', rope: false });
    expect(m.layers[4]!.ffn).toEqual({ kind: 'gelu', hidden: 4 * 256, bias: false });
    expect(m.layers[0]!.ffn).toBeNull();
  });

  it('hierarchical low_fraction 0.5 with 6 layers gives [low x3, high x3]', () => {
    const pattern: PatternInput = {
      type: 'hierarchical',
      low: { mixer: { kind: 'mamba' } },
      high: { mixer: { kind: 'retnet' } },
      low_fraction: 0.5,
    };
    const m = resolve({ n_layers: 6, pattern });
    expect(kinds(m)).toEqual(['mamba', 'mamba', 'mamba', 'retnet', 'retnet', 'retnet']);
    expect(kinds(resolve({ preset: 'fusion-hier', n_layers: 6 }))).toEqual(kinds(m));
    // low_fraction 0.25 of 8 layers: 2 low layers
    const p2 = patternSchema.parse({ ...pattern, low_fraction: 0.25, n_layers: 8 });
    expect(expandPattern(p2, 99).layers.map((l) => (l === 'shared' ? l : l.mixer.kind))).toEqual([
      'mamba',
      'mamba',
      ...Array(6).fill('retnet'),
    ]);
  });

  it('alternating cycles from layer 0; interleave marks (i mod period) in offsets; explicit is literal', () => {
    const alt = resolve({ preset: 'fusion-alt', n_layers: 5 });
    expect(kinds(alt)).toEqual(['mamba', 'retnet', 'mamba', 'retnet', 'mamba']);
    expect(alt.layers.map((l) => l.ffn?.kind ?? null)).toEqual([null, 'swiglu', null, 'swiglu', null]);
    const samba = resolve({ preset: 'samba', n_layers: 4 });
    expect(kinds(samba)).toEqual(['mamba', 'swa', 'mamba', 'swa']);
    expect(samba.layers.every((l) => l.ffn?.kind === 'swiglu')).toBe(true);

    const inter = resolve({
      n_layers: 7,
      pattern: {
        type: 'interleave',
        base: { mixer: { kind: 'mamba' } },
        minority: { mixer: { kind: 'attn' } },
        period: 3,
        offsets: [0, 2],
      },
    });
    expect(kinds(inter)).toEqual(['attn', 'mamba', 'attn', 'attn', 'mamba', 'attn', 'attn']);
    expect(ratioOffsets(1, 7)).toEqual({ period: 8, offsets: [4] }); // Jamba's 1:7 is offset 4
    expect(ratioOffsets(2, 6)).toEqual({ period: 8, offsets: [2, 6] });

    const explicit = resolve({
      n_layers: 99, // ignored: the list is literal
      pattern: {
        type: 'explicit',
        layers: [
          { mixer: { kind: 'selret' }, ffn: null },
          { mixer: { kind: 'mamba2' }, ffn: 'gelu' },
        ],
      },
    });
    expect(kinds(explicit)).toEqual(['selret', 'mamba2']);
    expect(explicit.layers.map((l) => l.ffn)).toEqual([null, { kind: 'gelu', hidden: 1024, bias: false }]);
    expect(explicit.n_layers).toBe(2);

    const mf = resolve({ preset: 'mambaformer', n_layers: 5 });
    expect(kinds(mf)).toEqual(['mamba', 'attn', 'mamba', 'attn', 'mamba']);
    expect(mf.layers.every((l) => l.ffn === null)).toBe(true);
    expect(mixerOf(mf.layers[1]!)).toMatchObject({ rope: false });
  });

  it('sharedAttn inserts one shared-block marker after every `every` base layers; the block runs at width 2d', () => {
    const m = resolve({
      d_model: 64,
      n_layers: 5,
      pattern: { type: 'sharedAttn', base: { mixer: { kind: 'mamba' } }, shared: { mixer: { kind: 'attn' } }, every: 2 },
    });
    expect(m.layers.map((l) => (l.mixer.kind === 'shared' ? `S${l.mixer.index}` : l.mixer.kind))).toEqual([
      'mamba',
      'mamba',
      'S0',
      'mamba',
      'mamba',
      'S1',
      'mamba',
    ]);
    expect(m.n_layers).toBe(5);
    expect(m.shared?.mixer).toMatchObject({ kind: 'attn', heads: 4, dh: 32 }); // 2 * 64 / 4
    expect(m.shared?.ffn).toEqual({ kind: 'gelu', hidden: 4 * 128, bias: false });
    // zamba caps `every` at n_layers so short stacks still use the block once
    const z4 = resolve({ preset: 'zamba', n_layers: 4 });
    expect(z4.layers.filter((l) => l.mixer.kind === 'shared')).toHaveLength(1);
    const z12 = resolve({ preset: 'zamba', n_layers: 12 });
    expect(z12.layers.flatMap((l, i) => (l.mixer.kind === 'shared' ? [i] : []))).toEqual([6, 13]);
    // a pattern whose block is never applied carries no shared block
    const none = resolve({
      n_layers: 3,
      pattern: { type: 'sharedAttn', base: { mixer: { kind: 'mamba' } }, shared: { mixer: { kind: 'attn' } }, every: 4 },
    });
    expect(none.shared).toBeUndefined();
  });

  it('parallel branches are width-scaled with even head widths; routed branches keep full width', () => {
    const h = resolve({ preset: 'hymba', d_model: 256 });
    const p = h.layers[0]!.mixer;
    if (p.kind !== 'parallel') throw new Error('expected parallel');
    expect(p.branches[0]).toMatchObject({ kind: 'attn', heads: 2, dh: 64 });
    expect(p.branches[1]).toMatchObject({ kind: 'mamba', d_inner: 256, dt_rank: 16 });
    const fp = resolve({ preset: 'fusion-par', d_model: 256 }).layers[0]!.mixer;
    if (fp.kind !== 'parallel') throw new Error('expected parallel');
    expect(fp.branches[0]).toMatchObject({ kind: 'retnet', heads: 2, dqk: 128, dvt: 216 });
    expect(fp.merge).toBe('normGateToken');
    const one = resolve({
      d_model: 64,
      pattern: {
        type: 'uniform',
        layer: {
          mixer: {
            kind: 'parallel',
            branches: [
              { kind: 'attn', heads: 1 },
              { kind: 'mamba2', head_dim: 16 },
            ],
          },
        },
      },
    });
    const b = one.layers[0]!.mixer;
    if (b.kind !== 'parallel') throw new Error('expected parallel');
    expect(b.branches[0]).toMatchObject({ heads: 1, dh: 32 });
    expect(b.branches[1]).toMatchObject({ d_inner: 64 });
    const r = resolve({ preset: 'fusion-route' }).layers[0]!.mixer;
    if (r.kind !== 'routed') throw new Error('expected routed');
    expect(r.branches.map((x) => x.kind)).toEqual(['selret', 'attn']);
    expect(r.branches[0]).toMatchObject({ heads: 4, dqk: 256, dvt: 432 });
    expect(r.routing).toBe('top1');
  });

  it('every preset resolves at d_model 64, n_layers 4 with no auto left, positive counts and a summary', () => {
    const hasAuto = (x: unknown): boolean => x === 'auto' || (typeof x === 'object' && x !== null && Object.values(x).some(hasAuto));
    for (const preset of PRESETS) {
      const m = resolve({ preset, d_model: 64, n_layers: 4 });
      expect(m.n_layers, preset).toBe(4);
      expect(hasAuto(m), preset).toBe(false);
      const { params, paramsNonEmbedding } = countParams(m);
      expect(params, preset).toBe(paramsNonEmbedding + 257 * 64);
      expect(paramsNonEmbedding, preset).toBeGreaterThan(0);
      expect(flopsPerToken(m, 256), preset).toBeGreaterThan(2 * 64 * 257);
      expect(decodeStateFloats(m, 16), preset).toBeGreaterThan(0);
      expect(summarizeLayers(m).length, preset).toBeGreaterThanOrEqual(4);
    }
  });
});

describe('resolution: defaults, overrides and errors', () => {
  it('fills the 10.3 defaults and resolves auto fields from d_model and seq_len', () => {
    const r = mixerOf(resolve({ preset: 'retnet' }).layers[0]!);
    expect(r).toMatchObject({
      kind: 'retnet',
      heads: 4,
      dqk: 256,
      dvt: 432,
      head_norm: 'rms',
      head_norm_eps: 1e-6,
      rope_freqs: 'torchscale',
      ret_scale: 'none',
      form: 'parallel',
      chunk: 64,
    });
    expect(mixerOf(resolve({ preset: 'retnet' }, { vocabSize: 10, seqLen: 1024 }).layers[0]!)).toMatchObject({ form: 'chunk' });
    const s = mixerOf(resolve({ preset: 'selret' }).layers[0]!);
    expect(s).toMatchObject({
      decay: 'mamba',
      write: 'dt',
      granularity: 'head',
      decay_init: 'retnet',
      tau: 16,
      a_min: -Infinity,
      rope: true,
    });
    const mb = mixerOf(resolve({ preset: 'mamba', d_model: 100 }).layers[0]!);
    expect(mb).toMatchObject({
      d_state: 16,
      d_conv: 4,
      d_inner: 200,
      dt_rank: 7,
      scan: 'chunked',
      scan_chunk: 16,
      conv_bias: true,
      bias: false,
    });
    const m2 = mixerOf(resolve({ preset: 'mamba2' }).layers[0]!);
    expect(m2).toMatchObject({ d_state: 64, head_dim: 64, n_groups: 1, d_inner: 512, a_init_range: [1, 16], chunk: 64, norm_eps: 1e-5 });
    const a = resolve({ preset: 'transformer' });
    expect(mixerOf(a.layers[0]!)).toMatchObject({ heads: 4, dh: 64, rope: true, rope_freqs: 'standard', rope_base: 10000, bias: false });
    expect(a).toMatchObject({ norm: 'rms', norm_eps: 1e-5, tie_embeddings: true, abs_pos: 'none', vocab_size: 257, seq_len: 256 });
  });

  it('model.mixer overrides reach every mixer that has the field, including parallel branches', () => {
    const m = resolve({ preset: 'fusion-selret', mixer: { decay: 'gla', chunk: 32 } });
    expect(mixerOf(m.layers[0]!)).toMatchObject({ decay: 'gla', write: 'none', chunk: 32 });
    const p = resolve({ preset: 'fusion-par', heads: 8, mixer: { d_state: 8 } }).layers[0]!.mixer;
    if (p.kind !== 'parallel') throw new Error('expected parallel');
    expect(p.branches[0]).toMatchObject({ heads: 4 }); // 8 heads x width_scale 0.5
    expect(p.branches[1]).toMatchObject({ d_state: 8 });
    const t = resolve({ preset: 'transformer', ffn: 'swiglu', ffn_hidden: 100 });
    expect(t.layers[0]!.ffn).toEqual({ kind: 'swiglu', hidden: 100, bias: false });
    expect(resolve({ preset: 'retnet', ffn: 'none' }).layers[0]!.ffn).toBeNull();
    expect(resolve({ preset: 'mamba', ffn: 'gelu' }).layers[0]!.ffn).toEqual({ kind: 'gelu', hidden: 1024, bias: false });
  });

  it('impossible shapes and unknown fields are one-line UserErrors naming the key', () => {
    expectUserError(() => resolve({ preset: 'transformer', d_model: 250 }), 'model.d_model');
    expectUserError(() => resolve({ preset: 'retnet', d_model: 250 }), 'model.d_model');
    expectUserError(() => resolve({ preset: 'transformer', d_model: 20, heads: 4 }), 'model.heads'); // head width 5 with rope
    expectUserError(() => resolve({ preset: 'transformer', mixer: { decay: 'gla' } }), 'model.mixer.decay');
    expect(countParams(resolve({ preset: 'mamba', heads: 8 }))).toEqual(countParams(resolve({ preset: 'mamba' }))); // shorthand: no heads, no-op
    expectUserError(() => resolve({ preset: 'retnet', mixer: { dvt: 430 } }), 'model.mixer.dvt');
    expectUserError(() => resolve({ preset: 'selret', mixer: { decay: 'gla', write: 'dt' } }), 'model.mixer.write');
    expectUserError(() => resolve({ preset: 'mamba2', d_model: 80 }), 'model.mixer.head_dim');
    expectUserError(() => resolve({ preset: 'selret', mixer: { granularity: 'key', intra_mode: 'factorized' } }), 'model.mixer.intra_mode');
    expectUserError(() => resolve({ preset: 'mamba', mixer: { expand: 1.3 } }), 'model.mixer.expand');
    expectUserError(
      () =>
        resolve({
          n_layers: 4,
          pattern: {
            type: 'interleave',
            base: { mixer: { kind: 'mamba' } },
            minority: { mixer: { kind: 'attn' } },
            period: 4,
            offsets: [4],
          },
        }),
      'model.pattern.offsets',
    );
    // strict schemas: unknown keys and enum values are zod issues with a path
    const bad = modelSchema.safeParse({ mixer: { chunck: 32 } });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]).toMatchObject({ code: 'unrecognized_keys', keys: ['chunck'], path: ['mixer'] });
    const badKind = modelSchema.safeParse({ pattern: { type: 'uniform', layer: { mixer: { kind: 'attn', windw: 3 } } } });
    expect(badKind.success).toBe(false);
    expect(modelSchema.safeParse({ preset: 'jamba2' }).error!.issues[0]).toMatchObject({ code: 'invalid_value', path: ['preset'] });
  });

  it('resolution is deterministic and leaves the config untouched', () => {
    const cfg = modelSchema.parse({ preset: 'fusion-par', heads: 8, mixer: { d_state: 8, chunk: 16 } });
    const before = JSON.stringify(cfg);
    const a = resolve(cfg);
    expect(JSON.stringify(cfg)).toBe(before);
    expect(resolve(cfg)).toEqual(a);
    const user = modelSchema.parse({
      n_layers: 2,
      pattern: { type: 'uniform', layer: { mixer: { kind: 'mamba2' } } },
      mixer: { d_state: 4, a_init_range: [2, 4] },
    });
    const snapshot = JSON.stringify(user);
    const r = resolve(user);
    expect(JSON.stringify(user)).toBe(snapshot);
    expect(r.layers[0]!.mixer).not.toBe(r.layers[1]!.mixer);
    expect(r.preset).toBe('custom');
  });

  it('a_min survives a JSON round trip (null = no clamp)', () => {
    const m = resolve({ preset: 'selret', mixer: { a_min: null } });
    expect(mixerOf(m.layers[0]!)).toMatchObject({ a_min: -Infinity });
    expect(mixerOf(resolve({ preset: 'selret', mixer: { a_min: -2 } }).layers[0]!)).toMatchObject({ a_min: -2 });
  });
});

describe('the mixer registry drives the schemas and the counts', () => {
  it('a field shared by several kinds has one type (so model.mixer.<field> means one thing)', () => {
    for (const [f, ks] of FIELD_KINDS) {
      const types = ks.map((k) => {
        const j = z.toJSONSchema(mixerFieldSchema(k, f), { unrepresentable: 'any', io: 'input' }) as Record<string, unknown>;
        delete j.description;
        delete j.default;
        delete j.$schema;
        return JSON.stringify(j);
      });
      expect(new Set(types).size, `${f} (${ks.join(', ')})`).toBe(1);
    }
    // every kind field is an override, and every override belongs to a kind
    const overrides = Object.keys((mixerOverridesSchema as unknown as { shape: object }).shape).sort();
    expect(overrides).toEqual([...FIELD_KINDS.keys()].sort());
    for (const m of MIXERS) for (const f of Object.keys(m.schema.shape)) if (f !== 'kind') expect(overrides).toContain(f);
  });

  it('the layer schema accepts exactly the registered kinds plus the combinators', () => {
    for (const k of MIXER_KINDS) expect(layerSchema.safeParse({ mixer: { kind: k } }).success, k).toBe(true);
    expect(layerSchema.safeParse({ mixer: { kind: 'lstm' } }).success).toBe(false);
  });

  it('the pure half (schemas, resolution, counts, catalog) never imports TensorFlow.js', () => {
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const src = fs.readFileSync(file, 'utf8');
      expect(src, file).not.toMatch(/from '@tensorflow/);
      for (const m of src.matchAll(/^(?:import|export)[^;]*?from '(\.[^']+)'/gms)) visit(path.resolve(path.dirname(file), m[1]!));
    };
    for (const f of ['spec.ts', 'catalog.ts', 'params.ts', 'flops.ts']) visit(path.resolve('src/models', f));
    expect([...seen].some((f) => f.endsWith(path.join('kinds', 'registry.ts')))).toBe(true);
  });

  it('src/models and src/ops have no import cycles (value or type-level)', () => {
    const deps = (file: string): string[] =>
      [...fs.readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^;]*?from '(\.[^']+)'/gms)].map((m) =>
        path.resolve(path.dirname(file), m[1]!),
      );
    const files = ['src/models', 'src/models/kinds', 'src/models/mixers', 'src/ops'].flatMap((dir) =>
      fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.ts'))
        .map((f) => path.resolve(dir, f)),
    );
    const done = new Set<string>();
    const visit = (f: string, trail: string[]): void => {
      expect(trail, `cycle: ${[...trail, f].map((x) => path.relative('src', x)).join(' -> ')}`).not.toContain(f);
      if (done.has(f) || !f.includes(`${path.sep}src${path.sep}`)) return;
      for (const d of deps(f)) visit(d, [...trail, f]);
      done.add(f);
    };
    for (const f of files) visit(f, []);
  });

  it('config keys are snake_case; the old camelCase spelling gets a did-you-mean', () => {
    for (const f of [...FIELD_KINDS.keys(), ...Object.keys(parallelSchema.shape), ...Object.keys(routedSchema.shape)])
      expect(f, f).toMatch(/^[a-z][a-z0-9_]*$/);
    const errors = (raw: Record<string, unknown>): string => {
      try {
        parseConfig(raw, (keys) => keys.join('.'));
      } catch (e) {
        expect(e).toBeInstanceOf(UserErrors);
        return (e as UserErrors).messages.join('\n');
      }
      return '';
    };
    const old: [string, string][] = [
      ['dState', 'd_state'],
      ['dtRank', 'dt_rank'],
      ['retScale', 'ret_scale'],
      ['dtInitFloor', 'dt_init_floor'],
      ['aInitRange', 'a_init_range'],
      ['headNormEps', 'head_norm_eps'],
    ];
    for (const [camel, snake] of old) {
      expect(errors({ model: { mixer: { [camel]: 1 } } })).toContain(`model.mixer.${camel}: unknown key (did you mean "${snake}"?)`);
      expect(
        errors({ model: { pattern: { type: 'uniform', layer: { mixer: { kind: FIELD_KINDS.get(snake)![0], [camel]: 1 } } } } }),
      ).toContain(`did you mean "${snake}"?`);
    }
    expect(errors({ model: { pattern: { type: 'uniform', nLayers: 2, layer: { mixer: { kind: 'attn' } } } } })).toContain(
      'did you mean "n_layers"?',
    );
    expect(
      errors({
        model: {
          pattern: {
            type: 'uniform',
            layer: { mixer: { kind: 'parallel', widthScale: 1, branches: [{ kind: 'attn' }, { kind: 'mamba' }] } },
          },
        },
      }),
    ).toContain('did you mean "width_scale"?');
  });

  it('a stored config from before the snake_case keys is named, not built', () => {
    const m = resolve({ preset: 'fusion-par', n_layers: 2 });
    expect(storedModelProblem(m)).toBeUndefined();
    const old = JSON.parse(JSON.stringify(m).replace(/"d_state"/g, '"dState"')) as ResolvedModel;
    expect(storedModelProblem(old)).toBe('layers.0.mixer.branches.1: mamba mixer lacks d_state (written by an older seqlab?)');
    const bad = JSON.parse(JSON.stringify(m).replace(/"retnet"/g, '"retnet9"')) as ResolvedModel;
    expect(storedModelProblem(bad)).toBe("layers.0.mixer.branches.0: unknown mixer kind 'retnet9'");
  });

  it('presets that expand alike resolve alike (one run id): fusion-selret is selret', () => {
    const a = resolve({ preset: 'selret', n_layers: 3 });
    const b = resolve({ preset: 'fusion-selret', n_layers: 3 });
    expect(b).toEqual(a);
    expect(b.preset).toBe('selret');
    expect(resolve({ preset: 'fusion-alt' }).preset).toBe('fusion-alt');
    // gla is selret with the GLA decay per key pair (and so no write gate); deltanet its own kind
    expect(mixerOf(resolve({ preset: 'gla' }).layers[0]!)).toMatchObject({
      kind: 'selret',
      decay: 'gla',
      granularity: 'key',
      write: 'none',
    });
    expect(resolve({ preset: 'gla' }).layers[0]!.ffn?.kind).toBe('swiglu');
    expect(resolve({ preset: 'deltanet' }).layers.map((l) => [l.mixer.kind, l.ffn?.kind])).toEqual(Array(6).fill(['deltanet', 'swiglu']));
  });
});

// ------------------------------------------------------------------------------------------------

const one = (m: ModelConfigInput, c = ctx) => {
  const r = resolve(m, c);
  return { r, layer: layerParams(r.layers[0]!, r.d_model, r.norm) };
};

describe('T20 parameter counts (docs/models.md 7)', () => {
  it('Mamba-1 check value: d 768, 24 layers, V 50280 -> 3,771,648 per layer, 129,135,360 total', () => {
    const { r, layer } = one({ preset: 'mamba', d_model: 768, n_layers: 24 }, { vocabSize: 50280, seqLen: 1024 });
    expect(mixerOf(r.layers[0]!)).toMatchObject({ d_inner: 1536, d_state: 16, dt_rank: 48, d_conv: 4 });
    expect(layer).toBe(3_771_648);
    expect(countParams(r).params).toBe(129_135_360);
  });

  it('GPT-2 small check value (LayerNorm + Linear biases, tied, V 50257) -> 7,087,872 per layer, 123,653,376 total', () => {
    const cfg: ModelConfigInput = {
      preset: 'transformer',
      d_model: 768,
      n_layers: 12,
      heads: 12,
      norm: 'layer',
      mixer: { bias: true },
      ffn_bias: true,
    };
    const { r, layer } = one(cfg, { vocabSize: 50257, seqLen: 1024 });
    expect(layer).toBe(7_087_872);
    expect(countParams(r).params).toBe(123_653_376);
    // learned positions and an untied head are counted on top (nanoGPT's wpe: 1024 x 768)
    const withPos = resolve({ ...cfg, abs_pos: 'learned', tie_embeddings: false }, { vocabSize: 50257, seqLen: 1024 });
    expect(countParams(withPos).params).toBe(123_653_376 + 1024 * 768 + 50257 * 768);
    expect(countParams(withPos).paramsNonEmbedding).toBe(123_653_376 - 50257 * 768);
  });

  it('small defaults (d 256): transformer 786,944; retnet 795,136; mamba 438,016; mamba2 432,024; selret +1,032', () => {
    expect(one({ preset: 'transformer' }).layer).toBe(786_944);
    const ret = one({ preset: 'retnet' }).layer;
    expect(ret).toBe(795_136);
    expect(one({ preset: 'mamba' }).layer).toBe(438_016);
    expect(one({ preset: 'mamba2' }).layer).toBe(432_024);
    expect(one({ preset: 'selret' }).layer - ret).toBe(1_032);
  });

  it('gate, norm, bias and merge terms follow the table (d 256, H 4)', () => {
    const ret = one({ preset: 'retnet' }).layer;
    const d = 256;
    const H = 4;
    const sel = (mixer: ModelConfigInput['mixer']) => one({ preset: 'selret', mixer }).layer - ret;
    expect(sel({ decay: 'gla' })).toBe(d * H + H);
    expect(sel({ decay: 'fixed', write: 'sigmoid' })).toBe(d * H + H);
    expect(sel({ decay: 'fixed' })).toBe(0);
    expect(sel({ decay: 'mamba', granularity: 'key' })).toBe(d * H + H + (H * 64) / 2);
    expect(sel({ decay: 'gla', granularity: 'key' })).toBe(16 * d + (16 * H * 64) / 2 + (H * 64) / 2);
    // LayerNorm has a bias: two norms per layer, 2d each
    expect(one({ preset: 'transformer', norm: 'layer' }).layer - one({ preset: 'transformer' }).layer).toBe(2 * d);
    // mamba: bias adds 2 din + d, no conv bias removes din, inner norms add R + 2N
    const mamba = one({ preset: 'mamba' }).layer;
    expect(one({ preset: 'mamba', mixer: { bias: true } }).layer - mamba).toBe(2 * 512 + d);
    expect(one({ preset: 'mamba', mixer: { conv_bias: false } }).layer - mamba).toBe(-512);
    expect(one({ preset: 'mamba', mixer: { inner_norms: true } }).layer - mamba).toBe(16 + 32);
    // parallel: branches + nb d (RMS_b) [+ d nb + nb token gate]; hymba at d 256 (width_scale 0.5)
    const hy = one({ preset: 'hymba' });
    const attnHalf = 4 * d * 128;
    const mambaHalf = 3 * d * 256 + 256 * (4 + 2 * 16 + 3 * 16 + 3);
    const swiglu = 3 * d * 432;
    expect(hy.layer).toBe(d + attnHalf + mambaHalf + 2 * d + d + swiglu);
    const tok = one({
      pattern: {
        type: 'uniform',
        layer: { mixer: { kind: 'parallel', branches: [{ kind: 'attn' }, { kind: 'mamba' }], merge: 'normGateToken' }, ffn: 'swiglu' },
      },
    });
    expect(tok.layer - hy.layer).toBe(d * 2 + 2);
    const stat = one({
      pattern: {
        type: 'uniform',
        layer: { mixer: { kind: 'parallel', branches: [{ kind: 'attn' }, { kind: 'mamba' }], merge: 'normGateStatic' }, ffn: 'swiglu' },
      },
    });
    expect(stat.layer - hy.layer).toBe(2);
    // routed: branches + router d nb (+ nb d RMS_b when soft)
    const top1 = one({ preset: 'fusion-route' });
    const selFull = 2 * d * d + 3 * d * 432 + d * H + 2 * H;
    expect(top1.layer).toBe(d + selFull + 4 * d * d + 2 * d + d + swiglu);
    const soft = one({
      pattern: {
        type: 'uniform',
        layer: { mixer: { kind: 'routed', branches: [{ kind: 'selret' }, { kind: 'attn' }], routing: 'soft' }, ffn: 'swiglu' },
      },
    });
    expect(soft.layer - top1.layer).toBe(2 * d);
  });

  it('zamba: the shared block (width 2d) once plus a 2d x d Linear per insertion', () => {
    const d = 64;
    const base = countParams(resolve({ preset: 'mamba', d_model: d, n_layers: 12 })).params;
    const z = countParams(resolve({ preset: 'zamba', d_model: d, n_layers: 12 })).params;
    const w = 2 * d;
    const block = w + 4 * w * w + w + 2 * w * (4 * w);
    expect(z - base).toBe(block + 2 * (2 * d * d));
  });
});

describe('T21 FLOPs per token (docs/models.md 8 worked example: d 256, T 256, C 64, H 4)', () => {
  const T = 256;
  const f = (m: ModelConfigInput) => {
    const r = resolve(m);
    return layerFlops(r.layers[0]!, r.d_model, T, r.shared);
  };
  it('Transformer layer 1,835,008 = 786,432 attention + 1,048,576 FFN', () => {
    const r = resolve({ preset: 'transformer' });
    expect(mixerFlops(mixerOf(r.layers[0]!), 256, T)).toBe(786_432);
    expect(f({ preset: 'transformer' })).toBe(1_835_008);
  });
  it('RetNet layer: parallel 1,942,528; chunkwise 1,788,160; recurrent mixing 138,240', () => {
    expect(f({ preset: 'retnet' })).toBe(1_942_528);
    expect(f({ preset: 'retnet', mixer: { form: 'chunk' } })).toBe(1_788_160);
    const proj = 4 * 256 * 256 + 6 * 256 * 432;
    const ffn = 6 * 256 * 432;
    expect(f({ preset: 'retnet', mixer: { form: 'recurrent' } }) - proj - ffn).toBe(138_240);
  });
  it('Mamba-1 layer 913,408 (two ~= one Transformer layer); Mamba-2 layer 1,066,496', () => {
    expect(f({ preset: 'mamba' })).toBe(913_408);
    expect(f({ preset: 'mamba2' })).toBe(1_066_496);
  });
  it('selret adds 2 d H per gate projection and H T (parallel) or H C (chunk) exps; SWA mixes over min(T, W)', () => {
    const ret = f({ preset: 'retnet' });
    expect(f({ preset: 'selret' }) - ret).toBe(2 * 256 * 4 + 4 * T);
    expect(f({ preset: 'selret', mixer: { form: 'chunk' } }) - f({ preset: 'retnet', mixer: { form: 'chunk' } })).toBe(
      2 * 256 * 4 + 4 * 64,
    );
    expect(f({ preset: 'selret', mixer: { write: 'sigmoid' } }) - ret).toBe(2 * 2 * 256 * 4 + 4 * T);
    const swa = resolve({ preset: 'samba' });
    expect(mixerFlops(mixerOf(swa.layers[1]!), 256, T)).toBe(8 * 256 * 256 + 4 * 64 * 256);
  });
  it('model total = sum of layers + 2 d V', () => {
    const r = resolve({ preset: 'transformer', n_layers: 6 });
    expect(flopsPerToken(r, T)).toBe(6 * 1_835_008 + 2 * 256 * 257);
    // attention mixing grows linearly with context
    expect(flopsPerToken(r, 2 * T) - flopsPerToken(r, T)).toBe(6 * 4 * T * 256);
  });
});

describe('decode state floats (docs/models.md 9, d 256)', () => {
  const per = (m: ModelConfigInput, t: number) => {
    const r = resolve({ ...m, n_layers: 1 });
    return decodeStateFloats(r, t);
  };
  it('matches the table examples', () => {
    expect(per({ preset: 'transformer' }, 1024)).toBe(524_288);
    expect(per({ preset: 'retnet' }, 1024)).toBe(27_648);
    expect(per({ preset: 'selret' }, 1024)).toBe(27_648);
    expect(per({ preset: 'mamba' }, 1024)).toBe(10_240);
    expect(per({ preset: 'mamba2' }, 1024)).toBe(35_328);
    const samba = resolve({ preset: 'samba', n_layers: 2 });
    expect(decodeStateFloats(samba, 1024)).toBe(10_240 + 2 * 64 * 256);
    expect(decodeStateFloats(samba, 10)).toBe(10_240 + 2 * 10 * 256);
  });
});
