// Backend selection, true whichever optional tfjs-node package is (or is not) installed: auto takes
// tensorflow exactly when its binding loads, and the run's thread count reaches TensorFlow's pools.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.ts';
import { selectBackend, tensorflowThreads } from '../src/backend/select.ts';
import { tensorflowPackage } from './fixtures/backend.ts';

async function userError(p: Promise<unknown>): Promise<UserError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error('expected a UserError');
}

describe('backend selection', () => {
  it("'tensorflow' loads where tfjs-node does, and is a one-line UserError naming the cause elsewhere", async () => {
    const pkg = await tensorflowPackage();
    if (pkg) {
      expect(await selectBackend('tensorflow', { threads: 2 })).toMatchObject({ name: 'tensorflow', reason: 'requested tensorflow' });
      expect(tf.getBackend()).toBe('tensorflow');
      return;
    }
    const e = await userError(selectBackend('tensorflow'));
    expect(e.message).toMatch(/^backend 'tensorflow' is not available here \(.*tfjs-node.*\); use --backend/);
    expect(e.message).not.toContain('\n');
    expect(e.exitCode).toBe(2);
    // A failed load leaves no thread variables behind for the workers.
    expect(process.env.TF_NUM_INTRAOP_THREADS).toBeUndefined();
  });

  it('webgpu (not installed) and unknown names are UserErrors too', async () => {
    expect((await userError(selectBackend('webgpu'))).message).toMatch(/^backend 'webgpu' is not available here/);
    expect((await userError(selectBackend('gpu'))).message).toMatch(
      /^unknown backend 'gpu' \(expected one of: auto, tensorflow, wasm, cpu, webgpu\)/,
    );
  });

  it('auto takes tensorflow when its binding loads, else wasm, and says why', async () => {
    const pkg = await tensorflowPackage();
    const c = await selectBackend('auto');
    expect(tf.getBackend()).toBe(c.name);
    if (pkg) {
      expect(c).toMatchObject({ name: 'tensorflow', reason: 'auto chose tensorflow: the first choice, and it loaded' });
    } else {
      expect(c.name).toBe('wasm');
      expect(c.reason).toMatch(/^auto chose wasm: tensorflow unavailable \(.*tfjs-node/);
    }
  });

  it('explicit cpu and wasm are honoured', async () => {
    expect((await selectBackend('cpu')).name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(await selectBackend('wasm')).toEqual({ name: 'wasm', reason: 'requested wasm' });
  });
});

describe("TensorFlow's thread pools", () => {
  it('the run threads go to TF_NUM_INTRAOP_THREADS (one inter-op thread); a user setting wins; none: TF default', () => {
    const env: NodeJS.ProcessEnv = {};
    expect(tensorflowThreads(3, env)).toEqual({ intra_op: 3, inter_op: 1, source: 'seqlab' });
    expect(env).toMatchObject({ TF_NUM_INTRAOP_THREADS: '3', TF_NUM_INTEROP_THREADS: '1', OMP_NUM_THREADS: '3' });
    const user: NodeJS.ProcessEnv = { TF_NUM_INTRAOP_THREADS: '6' };
    expect(tensorflowThreads(3, user)).toEqual({ intra_op: 6, inter_op: null, source: 'environment' });
    expect(user.TF_NUM_INTRAOP_THREADS).toBe('6');
    expect(tensorflowThreads(undefined, {})).toEqual({ intra_op: null, inter_op: null, source: 'tensorflow' });
  });
});
