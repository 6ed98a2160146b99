import { readFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { expected, parseJsonText, parseWith, readJsonFile } from '@crispr-bench/core/common';
import { z } from 'zod';
import { DATA_DIR } from '../data-dir.js';

/**
 * Instruction sets: the paper's ten BBQ instructions (data/instructions/bbq-paper.json, cited),
 * ten of our own (data/instructions/own.json) and user files. An instruction's id is
 * "<set name>:<index>".
 */
export const instructionSet = z.object({ name: z.string(), source: z.string(), instructions: z.array(z.string()) });
export type InstructionSet = z.infer<typeof instructionSet>;

const instructionList = z
  .array(
    z
      .string(expected('a string'))
      .transform((t) => t.trim())
      .refine((t) => t !== '', { error: 'is empty' }),
    expected('an array of strings'),
  )
  .min(1, { error: 'no instructions' })
  .superRefine((list, ctx) => {
    const dup = list.findIndex((t, i) => list.indexOf(t) !== i);
    if (dup >= 0) ctx.addIssue({ code: 'custom', path: [dup], message: `repeats instruction ${list.indexOf(list[dup]!)}` });
  });

/** An instruction file: {"name"?, "source"?, "instructions": [...]}, or a bare array of strings (read as its "instructions"). */
export const instructionFile = z.preprocess(
  (v) => (Array.isArray(v) ? { instructions: v } : v),
  z.object(
    { name: z.string().min(1, { error: 'must be a non-empty string' }).optional(), source: z.string().optional(), instructions: instructionList },
    { error: 'expected {"instructions": [...]} or a JSON array of strings' },
  ),
);

function toSet(v: z.output<typeof instructionFile>, where: string): InstructionSet {
  return { name: v.name ?? basename(where, extname(where)), source: v.source ?? where, instructions: v.instructions };
}

function packageSet(rel: string): InstructionSet {
  return toSet(readJsonFile(join(DATA_DIR, rel), instructionFile), `data/${rel}`);
}

/** The CRISPR paper's ten synonymous BBQ instructions (arXiv 2311.09627, Table 6). */
export function paperInstructions(): InstructionSet {
  return packageSet('instructions/bbq-paper.json');
}

/** Ten instructions of our own, for transfer checks beyond the paper's wording. */
export function ownInstructions(): InstructionSet {
  return packageSet('instructions/own.json');
}

/**
 * A user's instruction file: JSON ({"name", "source", "instructions": [...]} or an array of
 * strings), or plain text with one instruction a line ("#" starts a comment line).
 */
export async function loadInstructions(path: string): Promise<InstructionSet> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read instruction file ${path}: ${(e as Error).message}`);
  }
  const t = text.trim();
  if (t.startsWith('{') || t.startsWith('[')) return toSet(parseJsonText(t, path, instructionFile), path);
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  return toSet(parseWith(instructionFile, lines, path), path);
}

/** Resolves "paper", "own" or a file path. */
export async function resolveInstructions(spec: string): Promise<InstructionSet> {
  if (spec === 'paper') return paperInstructions();
  if (spec === 'own') return ownInstructions();
  return loadInstructions(spec);
}
