/**
 * defineNativeOp: the one way a fused op reaches the addon (docs/models.md 0.3). Given the op's
 * registry line (src/native/registry.ts) and its tfjs kernels, it finds the addon's functions,
 * registers the kernels on the native backends once per addon, says whether the op may run on given
 * tensors (its switch in the kernel configuration, the addon, the backend, the tensors' memory) and
 * why not. The caller keeps the tensor form as the reference and the fallback.
 *
 * A missing addon (or one without the op's functions) is remembered, with its reason, until another
 * kernel configuration is installed (src/native/config.ts useKernelConfig): a new backend start may
 * name another addon path or switch.
 */
import * as tf from '@tensorflow/tfjs';
import { addonWith, loadNativeAddon } from './addon.ts';
import { kernelConfig, type KernelConfig } from './config.ts';
import { NATIVE_BACKENDS, nativeOpsReady } from './eltwise.ts';
import { memoryOf } from './memory.ts';
import { FUSED_OPS, type FusedOpName } from './registry.ts';

export type KernelArgs = Parameters<tf.KernelFunc>[0];
export type NativeKernel = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

export interface NativeOpSpec<A> {
  /** The op's line in src/native/registry.ts: its addon functions and switch. */
  name: FusedOpName;
  /** Its tfjs kernels by kernel name, calling into the addon `native` in place on backend memory. */
  kernels: (native: A) => Record<string, NativeKernel>;
  /** Why this addon must not be used although it has the functions (e.g. a stale build); undefined: use it. */
  refuse?: (native: A) => string | undefined;
}

export interface NativeOp<A> {
  /** Whether the op may run now on these tensors (float32, in memory the addon reads); none: whether it may run at all. */
  ready(...ts: tf.Tensor[]): boolean;
  /** Whether the op runs on `backend` (default: the active one), and why (not). */
  status(backend?: string): { available: boolean; reason: string };
  /** The addon with the op's kernels registered; throws saying why when the op is not available. */
  addon(): A;
}

const isNativeBackend = (name: string) => (NATIVE_BACKENDS as readonly string[]).includes(name);

export function defineNativeOp<A>(spec: NativeOpSpec<A>): NativeOp<A> {
  const entry = FUSED_OPS[spec.name];
  let found: { config: KernelConfig; addon?: A; reason: string } | undefined;
  let registeredFor: A | undefined;

  const register = (native: A) => {
    if (registeredFor === native) return;
    const kernels = spec.kernels(native);
    for (const backendName of NATIVE_BACKENDS) {
      for (const [kernelName, f] of Object.entries(kernels)) {
        if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
        tf.registerKernel({ kernelName, backendName, kernelFunc: f as unknown as tf.KernelFunc });
      }
    }
    registeredFor = native;
  };

  const resolve = () => {
    const config = kernelConfig();
    if (found?.config === config) return found;
    if (!config.fused[spec.name]) {
      found = { config, reason: `fused ${spec.name} disabled by ${entry.switch}=off` };
    } else {
      const native = addonWith<A>(entry.symbols, config);
      const refused = native && spec.refuse?.(native);
      if (refused) {
        found = { config, reason: refused };
      } else if (native) {
        register(native);
        found = { config, addon: native, reason: `native fused ${spec.name}` };
      } else {
        const { addon, reason } = loadNativeAddon(undefined, config);
        found = {
          config,
          reason: addon ? `the native addon has no ${entry.symbols.join(' / ')} (rebuild it: \`node native/build.js\`)` : reason,
        };
      }
    }
    return found;
  };

  // The backend and tensor checks come first: they are cheap and keep other backends from loading the addon.
  const backendReady = (ts: tf.Tensor[]) => {
    if (entry.needsEltwise) return nativeOpsReady(...ts);
    if (!isNativeBackend(tf.getBackend())) return false;
    const mem = memoryOf(tf.backend());
    return ts.every((t) => t.dtype === 'float32' && t.size > 0 && mem.usable(t));
  };

  return {
    ready: (...ts) => backendReady(ts) && resolve().addon !== undefined,
    status: (backend = tf.getBackend()) => {
      const f = resolve();
      if (!f.addon) return { available: false, reason: f.reason };
      if (!isNativeBackend(backend)) return { available: false, reason: `backend ${backend} has no fused ${spec.name} kernel` };
      return { available: true, reason: f.reason };
    },
    addon: () => {
      const f = resolve();
      if (!f.addon) throw new Error(`fused ${spec.name} unavailable: ${f.reason}`);
      return f.addon;
    },
  };
}
