// The native room (src/native/): only its modules reach the addon. No product file outside it
// imports the addon loader (src/native/addon.ts) or the memory locator (src/native/memory.ts), and
// every fused op in the registry is defined through defineNativeOp, once, by a module that runs
// its kernels (a fused op with its own loading or registration would escape the one policy).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.ts';
import { kernelConfigFromEnv } from '../src/native/config.ts';
import { FUSED_OPS, FUSED_OP_NAMES } from '../src/native/registry.ts';

const root = path.resolve(__dirname, '..');
const NATIVE = path.join(root, 'src/native');
const PRIVATE = ['addon.ts', 'memory.ts'].map((f) => path.join(NATIVE, f));

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p) : /\.(ts|js|mjs|cjs)$/.test(e.name) ? [p] : [];
  });
}

/** The files a module imports (static, dynamic and re-exports), resolved. */
function imports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]);
  return specs.map((s) => path.resolve(path.dirname(file), s));
}

const product = ['src', 'bench', 'bin'].flatMap((d) => files(path.join(root, d)));
const native = files(NATIVE);

describe('the native room', () => {
  it('no product file outside src/native/ imports the addon loader or the memory locator', () => {
    const outside = product.filter((f) => !f.startsWith(NATIVE + path.sep));
    expect(outside.length).toBeGreaterThan(50);
    const offenders = outside.flatMap((f) =>
      imports(f)
        .filter((i) => PRIVATE.includes(i))
        .map((i) => `${path.relative(root, f)} -> ${path.relative(root, i)}`),
    );
    expect(offenders).toEqual([]);
  });

  it('every fused op goes through defineNativeOp, once, and every module that runs a native kernel defines one', () => {
    const defined = native.flatMap((f) =>
      [...fs.readFileSync(f, 'utf8').matchAll(/defineNativeOp<\w+>\(\{\s*name: '(\w+)'/g)].map((m) => m[1]),
    );
    expect([...defined].sort()).toEqual([...FUSED_OP_NAMES].sort());
    // Kernels are registered by the installers (matmul, element-wise) and defineNativeOp only.
    const registering = native.filter((f) => /tf\.registerKernel\(/.test(fs.readFileSync(f, 'utf8'))).map((f) => path.basename(f));
    expect(registering.sort()).toEqual(['define-op.ts', 'eltwise.ts', 'matmul.ts']);
    // A module that runs one of our kernels (Seqlab*) is a fused op: it defines it through defineNativeOp.
    for (const f of native) {
      const text = fs.readFileSync(f, 'utf8');
      if (/const \w+ = 'Seqlab\w+'/.test(text)) expect(text, path.relative(root, f)).toMatch(/defineNativeOp<\w+>\(\{/);
      if (!['addon.ts', 'define-op.ts', 'eltwise.ts', 'matmul.ts'].includes(path.basename(f)))
        expect(text, path.relative(root, f)).not.toMatch(/\b(loadNativeAddon|addonWith)\(/);
    }
  });

  it('no kernel, op or mixer reads the environment: only the kernel configuration does', () => {
    const hot = [...native, ...files(path.join(root, 'src/ops')), ...files(path.join(root, 'src/models'))].filter(
      (f) => path.basename(f) !== 'config.ts',
    );
    const offenders = hot.filter((f) => /process\.env|envOff\(/.test(fs.readFileSync(f, 'utf8'))).map((f) => path.relative(root, f));
    expect(offenders).toEqual([]);
    const envOffUsers = product.filter((f) => /\benvOff\(/.test(fs.readFileSync(f, 'utf8'))).map((f) => path.relative(root, f));
    expect(envOffUsers.sort()).toEqual(['src/native/config.ts', 'src/util/env.ts']);
  });
});

describe('the kernel configuration', () => {
  it('each fused op follows its registry switch; the run config threads win over SEQLAB_BLAS_THREADS; bad values are user errors', () => {
    for (const name of FUSED_OP_NAMES) {
      const c = kernelConfigFromEnv({ [FUSED_OPS[name].switch]: 'off' }, {});
      expect(c.fused[name], name).toBe(false);
      expect(kernelConfigFromEnv({ [FUSED_OPS[name].switch]: 'on' }, {}).fused[name], name).toBe(true);
      // only the ops that share the switch go off with it
      for (const other of FUSED_OP_NAMES)
        expect(c.fused[other], `${other} when ${name} is off`).toBe(FUSED_OPS[other].switch !== FUSED_OPS[name].switch);
    }
    expect(kernelConfigFromEnv({ SEQLAB_ELTWISE: 'no' }).eltwise).toBe(false);
    expect(kernelConfigFromEnv({ SEQLAB_BLAS_THREADS: '4' }, { threads: 2 }).threads).toBe(2);
    expect(kernelConfigFromEnv({ SEQLAB_BLAS_THREADS: '4' }).threads).toBe(4);
    expect(kernelConfigFromEnv({ SEQLAB_NATIVE_MATMUL: 'off', SEQLAB_NATIVE_MATMUL_PATH: '/x/seqlab.node' })).toMatchObject({
      addon: false,
      addonPath: '/x/seqlab.node',
    });
    expect(kernelConfigFromEnv({ SEQLAB_OPENBLAS_TUNE: 'refresh' }).openblasTune).toBe('refresh');
    expect(() => kernelConfigFromEnv({ SEQLAB_MATMUL: 'blas' })).toThrow(UserError);
    expect(() => kernelConfigFromEnv({ SEQLAB_BLAS_THREADS: 'x' })).toThrow(/SEQLAB_BLAS_THREADS/);
  });
});
