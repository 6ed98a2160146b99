/** Variadic Max: gradient to the input attaining the result, ties split evenly (see max-min-common.ts). */
import { registerRule } from '../rule.js';
import { maxMinGrad } from './max-min-common.js';

registerRule('Max', maxMinGrad);
