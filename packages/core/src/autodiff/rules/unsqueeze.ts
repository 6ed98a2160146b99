/** Unsqueeze only reinterprets the layout of its data input: the gradient is reshaped back. */
import type { GradRule } from '../rule.js';
import { layoutOnly } from './shape-common.js';

export const unsqueezeRule: GradRule = layoutOnly;
