// The one PRNG of every generator (docs/tasks.md 0.2): xoshiro128** seeded by four splitmix32 draws.

/** splitmix32 step (golden-ratio increment, murmur3 fmix32 finaliser): returns [output, nextState]. */
function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) >>> 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return [(z ^ (z >>> 16)) >>> 0, s];
}

const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let st = seed >>> 0;
    const draw = (): number => {
      const [out, next] = splitmix32(st);
      st = next;
      return out;
    };
    this.s0 = draw();
    this.s1 = draw();
    this.s2 = draw();
    this.s3 = draw();
    // An all-zero state is a fixed point of xoshiro; splitmix32 never yields four zeros, but be safe.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A generator with an explicit xoshiro state (for reference vectors). */
  static fromState(s0: number, s1: number, s2: number, s3: number): Rng {
    const r = new Rng(0);
    [r.s0, r.s1, r.s2, r.s3] = [s0 >>> 0, s1 >>> 0, s2 >>> 0, s3 >>> 0];
    return r;
  }

  /** Next uint32 (xoshiro128**). */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 24 bits: (x >>> 8) / 2^24. */
  uniform(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }

  /** Uniform integer in [0, n), rejection sampling (no modulo bias). */
  randInt(n: number): number {
    if (!(n >= 1) || n > 0x100000000) throw new RangeError(`randInt: bad n ${n}`);
    const limit = 0x100000000 - (0x100000000 % n); // largest multiple of n that fits in 2^32
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** k distinct values of 0..n-1 in draw order (partial Fisher–Yates). */
  sampleWithoutReplacement(n: number, k: number): number[] {
    if (k > n) throw new RangeError(`sampleWithoutReplacement: k=${k} > n=${n}`);
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = i;
    const out: number[] = [];
    for (let i = 0; i < k; i++) {
      const j = i + this.randInt(n - i);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
      out.push(a[i]);
    }
    return out;
  }

  /** k distinct indices, each drawn with probability proportional to the remaining weights. */
  weightedSampleWithoutReplacement(w: ArrayLike<number>, k: number): number[] {
    if (k > w.length) throw new RangeError(`weightedSampleWithoutReplacement: k=${k} > n=${w.length}`);
    const rest = Array.from(w);
    let total = rest.reduce((s, x) => s + x, 0);
    const out: number[] = [];
    for (let i = 0; i < k; i++) {
      let r = this.uniform() * total;
      let pick = -1;
      for (let j = 0; j < rest.length; j++) {
        if (rest[j] <= 0) continue;
        pick = j;
        r -= rest[j];
        if (r < 0) break;
      }
      out.push(pick);
      total -= rest[pick];
      rest[pick] = 0;
    }
    return out;
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.randInt(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}
