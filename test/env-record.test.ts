// env.json provenance: UTC timestamp, the user's command line and the lockfile's sha256.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { invocation, lockfileSha256 } from '../src/train/env.ts';

describe('env.json records', () => {
  it('the timestamp is UTC ISO 8601 and argv is the user command line from SEQLAB_ARGV', () => {
    const r = invocation(new Date(Date.UTC(2026, 0, 2, 3, 4, 5)), { SEQLAB_ARGV: JSON.stringify(['seqlab', 'run', 'configs/x.yaml', '--set', 'a=1 b']) }, ['node', 'worker.js']);
    expect(r.timestamp_utc).toBe('2026-01-02T03:04:05.000Z');
    expect(r.argv).toEqual(['seqlab', 'run', 'configs/x.yaml', '--set', 'a=1 b']);
    expect(invocation(new Date(), {}, ['node', 'script.js', '--x']).argv).toEqual(['script.js', '--x']);
    expect(invocation(new Date(), { SEQLAB_ARGV: '{not json' }, ['node', 'a']).argv).toEqual(['a']);
  });
  it('lockfile_sha256 is the sha256 of package-lock.json', () => {
    const root = path.resolve(__dirname, '..');
    const want = createHash('sha256').update(fs.readFileSync(path.join(root, 'package-lock.json'))).digest('hex');
    expect(lockfileSha256(root)).toBe(want);
    expect(lockfileSha256(path.join(root, 'no-such-dir'))).toBeNull();
  });
});
