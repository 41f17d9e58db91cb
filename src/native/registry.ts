/**
 * The fused native ops (docs/models.md 0.3): for each, the addon functions it needs and the
 * environment switch that turns it off (the ops that replace element-wise work follow
 * SEQLAB_ELTWISE). Adding a fused op touches its C file, its op module here in src/native/ (through
 * defineNativeOp) and one line below; src/native/config.ts derives the op's switch from this line.
 */
export interface FusedOpEntry {
  /** Functions the addon must export (an older build may lack some: the op then is not available). */
  symbols: readonly string[];
  /** The environment variable whose off / 0 / false / no turns the op off. */
  switch: string;
  /** Runs only where the native element-wise kernels are installed (src/native/eltwise.ts nativeOpsReady). */
  needsEltwise: boolean;
}

export const FUSED_OPS = {
  attention: { symbols: ['attentionForward', 'attentionBackward'], switch: 'SEQLAB_FUSED_ATTENTION', needsEltwise: true },
  retention: { symbols: ['retentionForward', 'retentionBackward'], switch: 'SEQLAB_FUSED_RETENTION', needsEltwise: true },
  scan: { symbols: ['scanForward', 'scanBackward'], switch: 'SEQLAB_FUSED_SCAN', needsEltwise: false },
  decode: { symbols: ['blockStep', 'decodeLayout'], switch: 'SEQLAB_FUSED_DECODE', needsEltwise: true },
  decay: { symbols: ['decayMatrix', 'decayMatrixGrad'], switch: 'SEQLAB_ELTWISE', needsEltwise: true },
  maskedSoftmax: { symbols: ['maskedSoftmax', 'maskedSoftmaxGrad'], switch: 'SEQLAB_ELTWISE', needsEltwise: true },
  norm: { symbols: ['normForward', 'normBackward'], switch: 'SEQLAB_ELTWISE', needsEltwise: true },
  gelu: { symbols: ['unary', 'binary'], switch: 'SEQLAB_ELTWISE', needsEltwise: true },
  rope: { symbols: ['rope'], switch: 'SEQLAB_ELTWISE', needsEltwise: true },
} as const satisfies Record<string, FusedOpEntry>;

export type FusedOpName = keyof typeof FUSED_OPS;
export const FUSED_OP_NAMES = Object.keys(FUSED_OPS) as FusedOpName[];
