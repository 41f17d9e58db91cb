// TensorBoard event files, written without TensorFlow: TFRecord framing around Event protocol
// buffers (tensorflow/core/util/event.proto, summary.proto). Scalars only.
//
//   record := uint64 length (LE) | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)
//   masked_crc32c(x) = ((crc >>> 15) | (crc << 17)) + 0xa282ead8   (mod 2^32)
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }   Value { string tag = 1; float simple_value = 2; }
import { crc32c } from '@aws-crypto/crc32c';

/** CRC-32C (Castagnoli) masked as TFRecord does, so that CRCs of CRCs stay well distributed. */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c(data) >>> 0;
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: the framed bytes of `data`. */
export function tfRecord(data: Uint8Array): Buffer {
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(data.length));
  const head = Buffer.alloc(4);
  head.writeUInt32LE(maskedCrc32c(len));
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(maskedCrc32c(data));
  return Buffer.concat([len, head, Buffer.from(data), tail]);
}

function varint(n: bigint | number): number[] {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}

const key = (field: number, wire: number) => varint((field << 3) | wire);

function lengthDelimited(field: number, bytes: Uint8Array): number[] {
  return [...key(field, 2), ...varint(bytes.length), ...bytes];
}

function double(field: number, v: number): number[] {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return [...key(field, 1), ...b];
}

function float(field: number, v: number): number[] {
  const b = Buffer.alloc(4);
  b.writeFloatLE(v);
  return [...key(field, 5), ...b];
}

const utf8 = (s: string) => new TextEncoder().encode(s);

/** An Event proto holding scalar summaries. */
export function scalarEvent(wallTime: number, step: number, scalars: Record<string, number>): Uint8Array {
  const values = Object.entries(scalars).map(([tag, v]) => Uint8Array.from([...lengthDelimited(1, utf8(tag)), ...float(2, v)]));
  const summary = Uint8Array.from(values.flatMap((v) => lengthDelimited(1, v)));
  return Uint8Array.from([...double(1, wallTime), ...key(2, 0), ...varint(step), ...lengthDelimited(5, summary)]);
}

/** The first event of every file: file_version "brain.Event:2". */
export function versionEvent(wallTime: number): Uint8Array {
  return Uint8Array.from([...double(1, wallTime), ...lengthDelimited(3, utf8('brain.Event:2'))]);
}

export interface ScalarPoint {
  step: number;
  /** seconds since the epoch */
  wallTime: number;
  tag: string;
  value: number;
}

/** A whole event file for these points (one event per step and wall time, tags grouped). */
export function eventFile(points: ScalarPoint[], startTime: number): Buffer {
  const byStep = new Map<string, { step: number; wallTime: number; scalars: Record<string, number> }>();
  for (const p of points) {
    const k = `${p.step}|${p.wallTime}`;
    if (!byStep.has(k)) byStep.set(k, { step: p.step, wallTime: p.wallTime, scalars: {} });
    byStep.get(k)!.scalars[p.tag] = p.value;
  }
  const events = [...byStep.values()].sort((a, b) => a.step - b.step || a.wallTime - b.wallTime);
  return Buffer.concat([tfRecord(versionEvent(startTime)), ...events.map((e) => tfRecord(scalarEvent(e.wallTime, e.step, e.scalars)))]);
}
