/** Reshape only reinterprets the layout of its data input: the gradient is reshaped back. */
import { registerRule } from '../rule.js';
import { layoutOnly } from './shape-common.js';

registerRule('Reshape', layoutOnly);
