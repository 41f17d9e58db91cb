// TensorBoard export read back independently: TFRecord framing checked record by record (both
// CRCs), Event / Summary protos decoded with protobufjs from the published .proto definitions,
// and the CRC-32C itself against the published check vectors (RFC 3720 B.4).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';
import { crc32c } from '@aws-crypto/crc32c';
import { exportTensorboard } from '../src/commands/export.ts';
import { maskedCrc32c } from '../src/export/tensorboard.ts';
import { lmSweep } from './fixtures/report/sweep.ts';

// From tensorflow/core/util/event.proto and tensorflow/core/framework/summary.proto (scalar part).
const PROTO = `
syntax = "proto3";
package tensorflow;
message Event { double wall_time = 1; int64 step = 2; oneof what { string file_version = 3; bytes graph_def = 4; Summary summary = 5; } }
message Summary { message Value { string node_name = 7; string tag = 1; oneof value { float simple_value = 2; bytes obsolete_old_style_histogram = 3; } } repeated Value value = 1; }
`;
const Event = protobuf.parse(PROTO, { keepCase: true }).root.lookupType('tensorflow.Event');

const unmask = (m: number) => {
  const rot = (m - 0xa282ead8) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
};

/** Read a TFRecord file, checking the masked CRC-32C of every length and payload. */
function readRecords(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let o = 0;
  while (o < buf.length) {
    const lenBytes = buf.subarray(o, o + 8);
    const n = Number(lenBytes.readBigUInt64LE(0));
    expect(unmask(buf.readUInt32LE(o + 8))).toBe(crc32c(lenBytes) >>> 0);
    const data = buf.subarray(o + 12, o + 12 + n);
    expect(unmask(buf.readUInt32LE(o + 12 + n))).toBe(crc32c(data) >>> 0);
    out.push(data);
    o += 12 + n + 4;
  }
  expect(o).toBe(buf.length);
  return out;
}

describe('seqlab export --tensorboard', () => {
  it('CRC-32C matches the published check vectors and the mask inverts', () => {
    expect(crc32c(Buffer.from('123456789')) >>> 0).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32, 0)) >>> 0).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff)) >>> 0).toBe(0x62a8ab43);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))) >>> 0).toBe(0x46dd794e);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))) >>> 0).toBe(0x113fdb5c);
    const data = Buffer.from('seqlab');
    expect(unmask(maskedCrc32c(data))).toBe(crc32c(data) >>> 0);
    expect(maskedCrc32c(data)).not.toBe(crc32c(data) >>> 0);
  });

  it('writes one event file per run whose scalars read back as written', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-tb-'));
    const sweep = lmSweep(tmp);
    const out = path.join(tmp, 'tb');
    exportTensorboard(sweep, out);
    exportTensorboard(sweep, out); // a rerun replaces, never duplicates
    const runs = fs.readdirSync(out).sort();
    expect(runs).toHaveLength(6);
    expect(runs[0]).toMatch(/^preset=mamba,seed=0_/);
    const dir = path.join(out, runs.find((r) => r.startsWith('preset=retnet,seed=1_'))!);
    const files = fs.readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^events\.out\.tfevents\.\d+\.seqlab$/);
    const events = readRecords(fs.readFileSync(path.join(dir, files[0]!))).map(
      (r) =>
        Event.toObject(Event.decode(r), { longs: Number }) as {
          step?: number;
          file_version?: string;
          summary?: { value: { tag: string; simple_value: number }[] };
        },
    );
    expect(events[0]!.file_version).toBe('brain.Event:2');
    const scalars = events.slice(1).flatMap((e) => e.summary!.value.map((v) => ({ step: e.step ?? 0, tag: v.tag, value: v.simple_value })));
    const train = scalars.filter((s) => s.tag === 'train/loss');
    // fixture: train_loss = 5.5 - 0.05 step - 0.1 p + 0.01 seed, retnet p = 1, seed 1
    expect(train.map((s) => s.step)).toEqual([0, 10, 20, 30]);
    for (const s of train) expect(s.value).toBeCloseTo(5.5 - 0.05 * s.step - 0.1 + 0.01, 5);
    const valid = scalars.find((s) => s.tag === 'valid/loss')!;
    expect(valid.step).toBe(30);
    expect(valid.value).toBeCloseTo((2.7 + 0.02) * Math.LN2, 5);
    expect(scalars.some((s) => s.tag === 'test/loss')).toBe(true);
  });
});
