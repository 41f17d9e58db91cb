import { createHash } from 'node:crypto';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A 32-bit hash of a string (first 4 bytes of sha256), for seeding PRNGs. */
export function hash32(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32LE(0);
}

/** Independent sub-seed of a run seed for one purpose ('init', 'data', 'dropout', 'bench', ...). */
export function subSeed(seed: number, purpose: string): number {
  return hash32(`${seed}:${purpose}`);
}
