/** Identity passes its gradient through unchanged. */
import { registerRule } from '../rule.js';

registerRule('Identity', (ctx) => [ctx.needs[0] ? ctx.dy[0] : undefined]);
