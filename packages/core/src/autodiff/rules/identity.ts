/** Identity passes its gradient through unchanged. */
import type { GradRule } from '../rule.js';

export const identityRule: GradRule = (ctx) => [ctx.needs[0] ? ctx.dy[0] : undefined];
