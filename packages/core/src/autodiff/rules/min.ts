/** Variadic Min: gradient to the input attaining the result, ties split evenly (see max-min-common.ts). */
import type { GradRule } from '../rule.js';
import { maxMinGrad } from './max-min-common.js';

export const minRule: GradRule = maxMinGrad;
