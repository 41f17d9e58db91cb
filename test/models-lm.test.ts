/**
 * Full-model properties for every preset (docs/models.md 6.5 + the pure baselines): T6 causality,
 * T11 prefill + decode == forward, T12 decode from empty == forward, weight count == countParams,
 * no tensor leaks in training and decoding, safetensors checkpoint round trip.
 */
import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sparseCrossEntropy } from '../src/backend/compat.ts';
import { decodeSafetensors, loadCheckpoint, saveCheckpoint } from '../src/models/checkpoint.ts';
import { buildModel } from '../src/models/model.ts';
import { decodeStateFloats } from '../src/models/flops.ts';
import { countParams } from '../src/models/params.ts';
import { PRESETS } from '../src/models/presets.ts';
import { expectClose, tinyModel, tokens } from './models-util.ts';

const V = 13;
const T = 16;
const B = 2;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Logits of decoding tokens [B, T] one by one after a prefill of `prefix` tokens (0 = empty state). */
let lastStateBytes = 0;
function decodeLogits(m: ReturnType<typeof buildModel>, ids: tf.Tensor2D, prefix: number): tf.Tensor3D {
  const [Bn, Tn] = ids.shape;
  const outs: tf.Tensor[] = [];
  let state: ReturnType<typeof m.emptyState>;
  if (prefix > 0) {
    const p = m.prefill(ids.slice([0, 0], [Bn, prefix]) as tf.Tensor2D);
    outs.push(p.logits);
    state = p.state;
  } else state = m.emptyState(Bn);
  for (let t = prefix; t < Tn; t++) {
    const tok = ids.slice([0, t], [Bn, 1]).reshape([Bn]) as tf.Tensor1D;
    const r = m.step(tok, state);
    m.disposeState(state);
    tok.dispose();
    state = r.state;
    outs.push(r.logits.expandDims(1));
    r.logits.dispose();
  }
  lastStateBytes = m.stateBytes(state);
  m.disposeState(state);
  const out = tf.concat(outs, 1) as tf.Tensor3D;
  tf.dispose(outs);
  return out;
}

describe('every preset', () => {
  for (const preset of PRESETS) {
    it(`${preset}: T6 causality, T11 prefill + decode, T12 decode from empty, weights == countParams, state size`, () => {
      const cfg = tinyModel(preset, { vocab: V, seqLen: T });
      const m = buildModel(cfg, 1);
      let n = 0;
      for (const w of m.weights.values()) n += w.size;
      expect(n).toBe(countParams(cfg).params);
      const ids = tokens(B, T, V);
      const full = m.forward(ids).logits;
      // T6: change the token at t0 (in every sequence); logits before t0 must not move
      const t0 = 9;
      const vals = Array.from(ids.dataSync()); // a copy (bufferSync may alias the backing store)
      for (let b = 0; b < B; b++) vals[b * T + t0] = (vals[b * T + t0] + 5) % V;
      const ids2 = tf.tensor2d(vals, [B, T], 'int32');
      const full2 = m.forward(ids2).logits;
      tf.tidy(() => {
        expectClose(full2.slice([0, 0, 0], [B, t0, V]), full.slice([0, 0, 0], [B, t0, V]), 1e-7, 0, `${preset} causality`);
        expect(tf.max(tf.abs(full2.sub(full))).dataSync()[0]).toBeGreaterThan(1e-6);
      });
      const dec = decodeLogits(m, ids, 0);
      expectClose(dec, full, 2e-4, 1e-3, `${preset} decode from empty`);
      const pre = decodeLogits(m, ids, 7);
      expectClose(pre, full, 2e-4, 1e-3, `${preset} prefill 7 + decode`);
      // the decode state holds exactly the floats docs/models.md 9 counts (metrics use the formula)
      expect(lastStateBytes).toBe(4 * B * decodeStateFloats(cfg, T));
      tf.dispose([ids, ids2, full, full2, dec, pre]);
      m.dispose();
    });
  }
});

describe('memory', () => {
  it('numTensors does not grow across training steps (variableGrads + Adam) nor decode steps', () => {
    const cfg = tinyModel('fusion-route', { vocab: V, seqLen: T });
    const m = buildModel(cfg, 2);
    const ids = tokens(B, T, V);
    const targets = tokens(B, T, V, 9);
    const opt = tf.train.adam(1e-3);
    const vars = [...m.weights.values()];
    const counts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const { value, grads } = tf.variableGrads(() => {
        const { logits, auxLoss } = m.forward(ids);
        const { sumLoss, count } = sparseCrossEntropy(logits.reshape([-1, V]), targets.reshape([-1]));
        const loss = sumLoss.div(count);
        return (auxLoss ? loss.add(auxLoss) : loss) as tf.Scalar;
      }, vars);
      opt.applyGradients(grads as Parameters<typeof opt.applyGradients>[0]);
      tf.dispose([value, ...Object.values(grads)]);
      counts.push(tf.memory().numTensors);
    }
    // Adam creates its slots on the first step; after that the count must be flat
    expect(counts.slice(1)).toEqual([counts[1], counts[1], counts[1], counts[1]]);
    let state = m.emptyState(B);
    const before = tf.memory().numTensors;
    for (let t = 0; t < 20; t++) {
      const tok = tf.tensor1d([t % V, (3 * t) % V], 'int32');
      const r = m.step(tok, state);
      m.disposeState(state);
      state = r.state;
      tf.dispose([tok, r.logits]);
      expect(tf.memory().numTensors).toBe(before);
    }
    m.disposeState(state);
    opt.dispose();
    tf.dispose([ids, targets]);
    m.dispose();
  });
});

describe('checkpoint', () => {
  it('safetensors round trip in a fresh process gives identical logits; the header follows the format', () => {
    const cfg = tinyModel('fusion-par', { vocab: V, seqLen: T });
    const m = buildModel(cfg, 5);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-ckpt-'));
    saveCheckpoint(m, dir);
    // format: u64 LE header length, JSON header, contiguous F32 data
    const buf = fs.readFileSync(path.join(dir, 'model.safetensors'));
    const n = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
    expect(JSON.parse(header.__metadata__.config)).toEqual(JSON.parse(JSON.stringify(cfg)));
    let end = 0;
    const entries = Object.entries(header).filter(([k]) => k !== '__metadata__') as [
      string,
      { dtype: string; shape: number[]; data_offsets: [number, number] },
    ][];
    expect(entries.map(([k]) => k).sort()).toEqual([...m.weights.keys()].sort());
    for (const [name, e] of entries.sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0])) {
      expect(e.dtype).toBe('F32');
      expect(e.data_offsets[0]).toBe(end);
      expect(e.data_offsets[1] - e.data_offsets[0]).toBe(4 * e.shape.reduce((a, x) => a * x, 1));
      expect(e.shape).toEqual(m.weights.get(name)!.shape);
      end = e.data_offsets[1];
    }
    expect(8 + n + end).toBe(buf.length);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(cfg)));
    const w0 = decodeSafetensors(buf).tensors.get('embed')!;
    expect(Array.from(w0.data)).toEqual(Array.from(m.weights.get('embed')!.dataSync()));

    const ids = tokens(B, T, V);
    const logits = m.forward(ids).logits;
    const expected = Array.from(logits.dataSync());
    // in-process load
    const m2 = loadCheckpoint(dir);
    const l2 = m2.forward(ids).logits;
    expect(Array.from(l2.dataSync())).toEqual(expected);
    // fresh process: load and print the logits of the same tokens
    const ckptTs = path.resolve('src/models/checkpoint.ts');
    const script = `import('@tensorflow/tfjs').then(async (tf) => {
      await tf.setBackend('cpu');
      const { loadCheckpoint } = await import(${JSON.stringify(ckptTs)});
      const m = loadCheckpoint(${JSON.stringify(dir)});
      const ids = tf.tensor2d(${JSON.stringify(Array.from(ids.dataSync()))}, [${B}, ${T}], 'int32');
      process.stdout.write('LOGITS' + JSON.stringify(Array.from(m.forward(ids).logits.dataSync())));
    });`;
    const out = execFileSync(path.resolve('node_modules/.bin/tsx'), ['-e', script], { encoding: 'utf8', cwd: path.resolve('.') });
    const child = JSON.parse(out.slice(out.indexOf('LOGITS') + 6)) as number[];
    expect(child).toEqual(expected.map((x) => Math.fround(x)));
    tf.dispose([ids, logits, l2]);
    m.dispose();
    m2.dispose();
    fs.rmSync(dir, { recursive: true });
  }, 60_000);

  it('a truncated or foreign file is a one-line user error', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-ckpt-'));
    fs.writeFileSync(path.join(dir, 'model.safetensors'), Buffer.from([1, 2, 3]));
    expect(() => loadCheckpoint(dir)).toThrow(/not a safetensors file/);
    expect(() => loadCheckpoint(path.join(dir, 'missing'))).toThrow(/no checkpoint at/);
    fs.rmSync(dir, { recursive: true });
  });
});
