/**
 * AdamW (Loshchilov & Hutter: decoupled weight decay), a linear warm-up then cosine decay
 * learning-rate schedule, and clipping by the global gradient norm. Plain Float32Array math: the
 * models trained here have well under a million weights, so this costs little next to the ORT step.
 */

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay (multiplies lr * weight). */
  weightDecay?: number;
}

export interface ScheduleOptions {
  peakLr: number;
  warmupSteps: number;
  totalSteps: number;
  /** Learning rate at the end of the decay, as a fraction of the peak (default 0.1). */
  finalFraction?: number;
}

/** Learning rate at 0-based `step`: linear warm-up to the peak, then cosine decay to finalFraction * peak. */
export function learningRate(step: number, s: ScheduleOptions): number {
  const final = (s.finalFraction ?? 0.1) * s.peakLr;
  if (step < s.warmupSteps) return (s.peakLr * (step + 1)) / s.warmupSteps;
  const span = Math.max(1, s.totalSteps - s.warmupSteps);
  const t = Math.min(1, (step - s.warmupSteps) / span);
  return final + 0.5 * (s.peakLr - final) * (1 + Math.cos(Math.PI * t));
}

/** Global L2 norm of a gradient set. */
export function globalNorm(grads: readonly Float32Array[]): number {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
  return Math.sqrt(s);
}

/** Scales the gradients in place so their global norm is at most maxNorm; returns the norm before. */
export function clipGradients(grads: Float32Array[], maxNorm: number): number {
  const norm = globalNorm(grads);
  if (!Number.isFinite(norm)) throw new Error(`gradient norm is ${norm}: the loss diverged (lower the learning rate)`);
  if (maxNorm > 0 && norm > maxNorm) {
    const k = maxNorm / norm;
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i]! *= k;
  }
  return norm;
}

/** Optimiser state: first and second moments per weight, and the number of steps taken. */
export interface AdamWState {
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

export function initAdamW(params: readonly Float32Array[]): AdamWState {
  return { step: 0, m: params.map((p) => new Float32Array(p.length)), v: params.map((p) => new Float32Array(p.length)) };
}

/**
 * One AdamW update of `params` in place. `decay[i]` false exempts a weight from weight decay
 * (norm scales, by convention).
 */
export function adamWStep(params: Float32Array[], grads: readonly Float32Array[], state: AdamWState, opts: AdamWOptions, decay?: readonly boolean[]): void {
  const b1 = opts.beta1 ?? 0.9;
  const b2 = opts.beta2 ?? 0.999;
  const eps = opts.eps ?? 1e-8;
  const wd = opts.weightDecay ?? 0;
  state.step += 1;
  const c1 = 1 - b1 ** state.step;
  const c2 = 1 - b2 ** state.step;
  for (let k = 0; k < params.length; k++) {
    const p = params[k]!;
    const g = grads[k]!;
    const m = state.m[k]!;
    const v = state.v[k]!;
    if (g.length !== p.length) throw new Error(`adamW: gradient ${k} has ${g.length} elements, its weight ${p.length}`);
    const shrink = decay && decay[k] === false ? 1 : 1 - opts.lr * wd;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]!;
      m[i] = b1 * m[i]! + (1 - b1) * gi;
      v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
      p[i] = p[i]! * shrink - (opts.lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + eps);
    }
  }
}
