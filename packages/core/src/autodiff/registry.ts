/** Lookup of the gradient rules listed in rules/index.ts. */
import type { GradRule } from './rule.js';
import { RULES } from './rules/index.js';

export function getRule(opType: string, domain = ''): GradRule | undefined {
  const key = domain && domain !== 'ai.onnx' ? `${domain}:${opType}` : opType;
  return Object.hasOwn(RULES, key) ? RULES[key] : undefined;
}

/** Every op with a rule, sorted (`domain:opType` for other domains than the default). */
export function registeredOps(): string[] {
  return Object.keys(RULES).sort();
}
