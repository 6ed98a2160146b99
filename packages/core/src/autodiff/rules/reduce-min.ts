/** ReduceMin: gradient to the attaining positions, ties split evenly (see reduce-max-min-common.ts). */
import { registerRule } from '../rule.js';
import { reduceExtremumGrad } from './reduce-max-min-common.js';

registerRule('ReduceMin', reduceExtremumGrad);
