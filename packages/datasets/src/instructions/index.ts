import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { readDataJson } from '../data-dir.js';

/**
 * Instruction sets: the paper's ten BBQ instructions (data/instructions/bbq-paper.json, cited),
 * ten of our own (data/instructions/own.json) and user files. An instruction's id is
 * "<set name>:<index>".
 */
export interface InstructionSet {
  name: string;
  source: string;
  instructions: string[];
}

function checkSet(v: unknown, where: string): InstructionSet {
  const fail = (m: string): never => {
    throw new Error(`${where}: ${m}`);
  };
  let list: unknown;
  let name = basename(where, extname(where));
  let source = where;
  if (Array.isArray(v)) list = v;
  else if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    if (!('instructions' in o)) fail('expected {"instructions": [...]} or a JSON array of strings');
    list = o.instructions;
    if (o.name !== undefined) name = typeof o.name === 'string' && o.name !== '' ? o.name : fail('"name" must be a non-empty string');
    if (o.source !== undefined) source = typeof o.source === 'string' ? o.source : fail('"source" must be a string');
  } else fail('expected {"instructions": [...]} or a JSON array of strings');
  if (!Array.isArray(list)) return fail('"instructions" must be an array of strings');
  const out: string[] = [];
  list.forEach((s, i) => {
    if (typeof s !== 'string') fail(`instruction ${i} must be a string, got ${JSON.stringify(s)}`);
    const t = (s as string).trim();
    if (t === '') fail(`instruction ${i} is empty`);
    out.push(t);
  });
  if (out.length === 0) fail('no instructions');
  const dup = out.findIndex((s, i) => out.indexOf(s) !== i);
  if (dup >= 0) fail(`instruction ${dup} repeats instruction ${out.indexOf(out[dup]!)}`);
  return { name, source, instructions: out };
}

/** The CRISPR paper's ten synonymous BBQ instructions (arXiv 2311.09627, Table 6). */
export function paperInstructions(): InstructionSet {
  return checkSet(readDataJson('instructions/bbq-paper.json'), 'data/instructions/bbq-paper.json');
}

/** Ten instructions of our own, for transfer checks beyond the paper's wording. */
export function ownInstructions(): InstructionSet {
  return checkSet(readDataJson('instructions/own.json'), 'data/instructions/own.json');
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
  if (t.startsWith('{') || t.startsWith('[')) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch (e) {
      throw new Error(`${path}: invalid JSON: ${(e as Error).message}`);
    }
    return checkSet(v, path);
  }
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  return checkSet(lines, path);
}

/** Resolves "paper", "own" or a file path. */
export async function resolveInstructions(spec: string): Promise<InstructionSet> {
  if (spec === 'paper') return paperInstructions();
  if (spec === 'own') return ownInstructions();
  return loadInstructions(spec);
}
