/**
 * Deliberate model faults for tests only: SEQLAB_FAULT names one, read here and nowhere else, so
 * that a test can show a claim failing on a broken model (test/paper-fault.test.ts). Unset in any
 * real run. `attn-no-causal-mask`: attention sees every position, future tokens included.
 */
export type Fault = 'attn-no-causal-mask';

export function faultActive(f: Fault): boolean {
  return process.env.SEQLAB_FAULT === f;
}
