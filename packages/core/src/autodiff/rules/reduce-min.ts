/** ReduceMin: gradient to the attaining positions, ties split evenly (see reduce-max-min-common.ts). */
import type { GradRule } from '../rule.js';
import { reduceExtremumGrad } from './reduce-max-min-common.js';

export const reduceMinRule: GradRule = reduceExtremumGrad;
