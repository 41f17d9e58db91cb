import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.ts';
import { selectBackend } from '../src/backend/select.ts';

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
  it("asking for 'tensorflow' where tfjs-node cannot load is a one-line UserError naming the cause", async () => {
    const e = await userError(selectBackend('tensorflow'));
    expect(e.message).toMatch(/^backend 'tensorflow' is not available here \(.*tfjs-node.*\); use --backend/);
    expect(e.message).not.toContain('\n');
    expect(e.exitCode).toBe(2);
  });

  it('webgpu (not installed) and unknown names are UserErrors too', async () => {
    expect((await userError(selectBackend('webgpu'))).message).toMatch(/^backend 'webgpu' is not available here/);
    expect((await userError(selectBackend('gpu'))).message).toMatch(/^unknown backend 'gpu' \(expected one of: auto, tensorflow, wasm, cpu, webgpu\)/);
  });

  it('auto falls back to wasm and says why tensorflow was skipped', async () => {
    const c = await selectBackend('auto');
    expect(c.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(c.reason).toMatch(/^auto chose wasm: tensorflow unavailable \(.*tfjs-node/);
  });

  it('explicit cpu and wasm are honoured', async () => {
    expect((await selectBackend('cpu')).name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(await selectBackend('wasm')).toEqual({ name: 'wasm', reason: 'requested wasm' });
  });
});
