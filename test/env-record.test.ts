// env.json provenance: UTC timestamp, the user's command line, the lockfile's sha256 and the kernel
// configuration the run's kernels used.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { kernelConfigFromEnv, useKernelConfig } from '../src/native/config.ts';
import { collectEnv, invocation, lockfileSha256 } from '../src/train/env.ts';

describe('env.json records', () => {
  it('the timestamp is UTC ISO 8601 and argv is the user command line from SEQLAB_ARGV', () => {
    const r = invocation(
      new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
      { SEQLAB_ARGV: JSON.stringify(['seqlab', 'run', 'configs/x.yaml', '--set', 'a=1 b']) },
      ['node', 'worker.js'],
    );
    expect(r.timestamp_utc).toBe('2026-01-02T03:04:05.000Z');
    expect(r.argv).toEqual(['seqlab', 'run', 'configs/x.yaml', '--set', 'a=1 b']);
    expect(invocation(new Date(), {}, ['node', 'script.js', '--x']).argv).toEqual(['script.js', '--x']);
    expect(invocation(new Date(), { SEQLAB_ARGV: '{not json' }, ['node', 'a']).argv).toEqual(['a']);
  });
  it('lockfile_sha256 is the sha256 of package-lock.json', () => {
    const root = path.resolve(__dirname, '..');
    const want = createHash('sha256')
      .update(fs.readFileSync(path.join(root, 'package-lock.json')))
      .digest('hex');
    expect(lockfileSha256(root)).toBe(want);
    expect(lockfileSha256(path.join(root, 'no-such-dir'))).toBeNull();
  });

  it('the kernel configuration built at backend start, switches and threads, is what env.json records and the fused ops follow', async () => {
    await tf.setBackend('cpu');
    const config = useKernelConfig(
      kernelConfigFromEnv({ SEQLAB_FUSED_ATTENTION: 'off', SEQLAB_MATMUL: 'stock', SEQLAB_BLAS_THREADS: '5' }, { threads: 3 }),
    );
    const peak = { gflops: 1, source: 'measured' as const, measured_at: 'now', shape: 'test', setup: {} };
    const env = await collectEnv({ backend: { name: 'cpu', reason: 'test' }, matmul: { path: 'stock', reason: 'test' }, peak });
    expect(env.kernel_config).toEqual(config);
    expect(env.kernel_config).toMatchObject({
      matmul: 'stock',
      threads: 3,
      eltwise: true,
      fused: { attention: false, retention: true, scan: true, decode: true },
    });
    expect(env.fused_attention).toBe(false);
  });
});
