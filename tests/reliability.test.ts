/**
 * Issue 14, each failure as it was reproduced, now with the promised behaviour: content-keyed
 * checkpoints, the run-folder lock, finite-number and length guards, safe file names, clean
 * stdout with `--json -`, exit statuses, paths as typed. The CLI runs in process where only its
 * results matter and as a child process where stdout, stderr and the exit status do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Attributor, attributionExample, attributionModel, loadModelFolder, readModel, safeName, writeModel, type CliIO } from '@crispr-bench/core';
import { makeDefaultModel } from '@crispr-bench/bench';
import { checkResults, type RunResults } from '@crispr-bench/results';
import { bbqRecord, jsonl } from '@crispr-bench/testing';
import { runCommand } from '../packages/bench/src/cli/commands/run.js';
import { lockRunFolder } from '../packages/bench/src/pipeline/lock.js';
import { contextLimit } from '../packages/bench/src/pipeline/lengths.js';
import { reportCommand } from '@crispr-bench/report/cli';
import { inspectCommand } from '@crispr-bench/core/cli';
import { collect, crispr, spawnCrispr } from './cli-process.js';

const tmp = mkdtempSync(join(tmpdir(), 'crispr-reliability-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function capture(): CliIO & { outLines: string[]; errLines: string[] } {
  const outLines: string[] = [];
  const errLines: string[] = [];
  return { outLines, errLines, out: (l) => outLines.push(l), err: (l) => errLines.push(l) };
}

const OCCUPATIONS = ['pilot', 'nurse', 'doctor', 'teacher', 'engineer', 'secretary', 'farmer', 'dancer', 'lawyer', 'baker', 'driver', 'singer'];

/** A generic multiple-choice file (mc:) the embedded default model's vocabulary covers. */
function writeMc(file: string, edit?: (rows: Record<string, unknown>[]) => void): void {
  const rows: Record<string, unknown>[] = OCCUPATIONS.map((o, i) => ({ id: `q${i}`, text: `The ${o} was tired, so`, options: [' he', ' she'], label: i % 2 }));
  edit?.(rows);
  writeFileSync(file, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
}

/** An instruction file with one instruction (runs with 'own' or 'paper' would score ten). */
function oneInstruction(dir: string, name = 'one'): string {
  const file = join(dir, `${name}-instructions.json`);
  writeFileSync(file, JSON.stringify({ name, instructions: ['Answer the question.'] }));
  return file;
}

/** Small settings: the run takes a second or two. */
const SMALL = ['--k', '0,2', '--bootstrap', '20', '--instances', '4', '--trials', '1'];

/** A copy of the default model with one initializer changed in place. */
function onnxFiles(dir: string): string[] {
  return readdirSync(join(dir, 'onnx'))
    .filter((f) => f.endsWith('.onnx'))
    .map((f) => join(dir, 'onnx', f));
}

/** Applies `change` to the first float32 initializer it accepts, in place; returns its name. */
function changeWeights(file: string, change: (name: string, data: Float32Array) => boolean): string {
  const m = readModel(file);
  for (const [n, t] of m.graph.initializers) {
    if (t.dtype === 'float32' && change(n, t.data as Float32Array)) {
      writeModel(m, file);
      return n;
    }
  }
  throw new Error(`${file}: no initializer matched`);
}

async function modelWith(name: string, change?: (name: string, data: Float32Array) => boolean): Promise<{ dir: string; initializer: string }> {
  const dir = (await makeDefaultModel(join(tmp, name))).dir;
  let initializer = '';
  // Every graph of the folder holds the weights (model.onnx and its cache twin): change them alike.
  if (change) for (const file of onnxFiles(dir)) initializer = changeWeights(file, change);
  return { dir, initializer };
}

const metrics = (r: RunResults) => r.sweep.map((p) => ({ method: p.method, k: p.k, metrics: p.metrics }));
const readResults = (out: string) => checkResults(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));

/** Every file under dir, relative. */
function walk(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

let model: string;
beforeAll(async () => {
  model = (await modelWith('model')).dir;
});

describe('checkpoints are keyed by content, not by path', () => {
  it('a data file edited in place is recomputed, and the run equals a fresh one on the edited file', async () => {
    const data = join(tmp, 'edit.jsonl');
    writeMc(data);
    const out = join(tmp, 'edit-run');
    const args = ['--model', model, '--data', `mc:${data}`, '--instructions', oneInstruction(tmp), ...SMALL];
    expect(await runCommand.run([...args, '--out', out], capture())).toBe(0);
    const scoresFile = join(out, 'scores', `original-${safeName('one-1')}.json`);
    const scoresBefore = readFileSync(scoresFile, 'utf8');
    // Swap two answers and the label of one item, in place.
    writeMc(data, (rows) => {
      rows[0]!.options = [' she', ' he'];
      rows[0]!.label = 1 - (rows[0]!.label as number);
    });
    const io = capture();
    expect(await runCommand.run([...args, '--out', out], io)).toBe(0);
    expect(io.errLines.some((l) => /recomputing scores\/original-one-1-[0-9a-f]{8}\.json: prompts changed/.test(l))).toBe(true);
    const fresh = join(tmp, 'edit-fresh');
    expect(await runCommand.run([...args, '--out', fresh], capture())).toBe(0);
    expect(metrics(readResults(out))).toEqual(metrics(readResults(fresh)));
    expect(readResults(out).topNeurons).toEqual(readResults(fresh).topNeurons);
    expect(readFileSync(scoresFile, 'utf8')).not.toBe(scoresBefore);
    // The run says what it reused and why in results.json too.
    const again = capture();
    expect(await runCommand.run([...args, '--out', out], again)).toBe(0);
    expect(again.errLines.filter((l) => l.includes('reused')).length).toBeGreaterThanOrEqual(4);
    expect(
      readResults(out).notes.some((n) =>
        /^reused attribution\/one-1-[0-9a-f]{8}\.json: same model sha256:[0-9a-f]{16}, provider cpu, examples sha256:/.test(n),
      ),
    ).toBe(true);
  });

  it('weights fixed in place are recomputed, and the run equals a fresh one on the new weights', async () => {
    const { dir } = await modelWith('weights');
    const out = join(tmp, 'weights-run');
    const args = ['--model', dir, ...SMALL];
    expect(await runCommand.run([...args, '--out', out], capture())).toBe(0);
    const first = readResults(out);
    for (const file of onnxFiles(dir))
      changeWeights(file, (n, d) => {
        if (!/layers\.1\.mlp\.down_proj/.test(n)) return false;
        d.forEach((x, i) => (d[i] = x * 0.5));
        return true;
      });
    const io = capture();
    expect(await runCommand.run([...args, '--out', out], io)).toBe(0);
    expect(io.errLines.some((l) => /recomputing scores\/original-none-[0-9a-f]{8}\.json: model changed \(sha256:\w+ -> sha256:\w+\)/.test(l))).toBe(true);
    expect(io.errLines.some((l) => l.includes('reused'))).toBe(false);
    const fresh = join(tmp, 'weights-fresh');
    expect(await runCommand.run([...args, '--out', fresh], capture())).toBe(0);
    expect(metrics(readResults(out))).toEqual(metrics(readResults(fresh)));
    expect(metrics(readResults(out))).not.toEqual(metrics(first));
  });
});

describe('a run folder is locked', () => {
  it('a second process gets an error naming the holder, and writes nothing', async () => {
    const out = join(tmp, 'locked');
    mkdirSync(out);
    const lock = await lockRunFolder(out, { command: 'the test' });
    try {
      const r = await crispr(['run', ...SMALL, '--out', out]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`is in use by pid ${process.pid} on host ${hostname()}, started ${lock.owner.startedAt} (the test)`);
      expect(readdirSync(out)).toEqual(['run.lock']);
    } finally {
      lock.release();
    }
    expect(existsSync(join(out, 'run.lock'))).toBe(false);
  });

  it('of two concurrent runs on one folder exactly one runs; results and ranking come from it', async () => {
    const out = join(tmp, 'concurrent');
    const [a, b] = await Promise.all([collect(spawnCrispr(['run', ...SMALL, '--out', out])), collect(spawnCrispr(['run', ...SMALL, '--out', out]))]);
    expect([a.code, b.code].sort()).toEqual([0, 1]);
    const loser = a.code === 1 ? a : b;
    expect(loser.stderr).toMatch(/run folder .* is in use by pid \d+ on host/);
    expect(readResults(out).sweep.length).toBe(3);
    expect(existsSync(join(out, 'run.lock'))).toBe(false);
  });

  it('a stale lock from a dead process is taken over with a message', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const pid = Number(dead.stdout);
    const out = join(tmp, 'stale');
    mkdirSync(out);
    writeFileSync(join(out, 'run.lock'), JSON.stringify({ pid, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z', command: 'crispr run (killed)' }));
    const io = capture();
    expect(await runCommand.run([...SMALL, '--out', out], io)).toBe(0);
    expect(io.errLines.join('\n')).toContain(
      `took over the lock of ${out} from pid ${pid} on host ${hostname()}, started 2026-01-01T00:00:00.000Z (crispr run (killed)): that process is no longer running`,
    );
  });

  it('a lock held on another host is not taken over: the error says how to remove it', async () => {
    const out = join(tmp, 'other-host');
    mkdirSync(out);
    writeFileSync(join(out, 'run.lock'), JSON.stringify({ pid: 1, host: 'elsewhere.example', startedAt: '2026-01-01T00:00:00.000Z', command: 'crispr run' }));
    await expect(lockRunFolder(out)).rejects.toThrow(/locked by pid 1 on host elsewhere\.example.*If it is no longer running, delete .*run\.lock/s);
  });
});

describe('finite-number guards', () => {
  it('a NaN weight is named by initializer in explain, inspect and run (exit 1), and no checkpoint is written', async () => {
    const { dir, initializer } = await modelWith('nan', (n, d) => {
      if (!/mlp\.up_proj/.test(n)) return false;
      d[17] = NaN;
      return true;
    });
    const r = await crispr(['explain', '--model', dir, '--prompt', 'The pilot was tired, so', '--target', ' he']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`initializer '${initializer}'`);
    expect(r.stderr).toMatch(/1 non-finite value\(s\), first NaN at \[\d+, \d+\]/);
    expect(r.stdout).not.toMatch(/logprob|NaN/);
    const io = capture();
    expect(await inspectCommand.run(['--model', dir], io)).toBe(1);
    expect(io.outLines.join('\n')).toContain(`initializer '${initializer}'`);
    const out = join(tmp, 'nan-run');
    await expect(runCommand.run(['--model', dir, ...SMALL, '--out', out], capture())).rejects.toThrow(initializer);
    expect(walk(out)).toEqual([]);
  });

  it('a non-finite score at run time stops the stage naming the item; nothing is saved', async () => {
    // Finite weights whose logits overflow float32: the LM head scaled by 1e38.
    const { dir } = await modelWith('overflow', (n, d) => {
      if (n !== 'lm_head.weight') return false;
      d.forEach((x, i) => (d[i] = x * 1e38));
      return true;
    });
    const out = join(tmp, 'overflow-run');
    await expect(runCommand.run(['--model', dir, ...SMALL, '--out', out], capture())).rejects.toThrow(
      /scoring the original model: log P\(candidate \d ".*" \| item pronoun\/[^,]+, instruction 'none'\) is (NaN|-?Infinity); stopped before saving/,
    );
    expect(walk(out).filter((f) => !f.startsWith('default-model'))).toEqual([]);
  });
});

describe('length guards', () => {
  it('a 10,000-character item is refused before any session is built, naming the item and its length', async () => {
    const data = join(tmp, 'long.jsonl');
    writeMc(data, (rows) => rows.push({ id: 'long', text: 'The pilot was tired, so '.repeat(420).slice(0, 10_000), options: [' he', ' she'], label: 0 }));
    const io = capture();
    await expect(
      runCommand.run(['--model', model, '--data', `mc:${data}`, '--instructions', oneInstruction(tmp), ...SMALL, '--out', join(tmp, 'long-run')], io),
    ).rejects.toThrow(
      /item\(s\) are longer than the model's context length of 512 tokens \(config\.json max_position_embeddings\):\n {2}item long\/long under instruction 'one-1' with candidate "\s+(he|she)": \d{4} tokens/,
    );
    expect(io.errLines.some((l) => l.includes('scoring'))).toBe(false);
    expect(existsSync(join(tmp, 'long-run', 'scores'))).toBe(false);
    // --truncate left keeps the end of the prompt and says what it cut.
    const cut = capture();
    expect(
      await runCommand.run(
        ['--model', model, '--data', `mc:${data}`, '--instructions', oneInstruction(tmp), ...SMALL, '--truncate', 'left', '--out', join(tmp, 'long-run')],
        cut,
      ),
    ).toBe(0);
    expect(cut.errLines.join('\n')).toMatch(
      /--truncate left: cut 1 prompt\(s\) under instruction 'one-1' to fit 512 tokens \(first: item long\/long: \d+ tokens, cut to \d+ of \d+ characters\)/,
    );
  });

  it('takes the context length from the config, and none for T5 relative positions', () => {
    expect(contextLimit({ model_type: 'llama', max_position_embeddings: 2048 })).toEqual({ tokens: 2048, source: 'config.json max_position_embeddings' });
    expect(contextLimit({ model_type: 'gpt2', n_positions: 1024 })).toEqual({ tokens: 1024, source: 'config.json n_positions' });
    expect(contextLimit({ model_type: 't5', n_positions: 512, relative_attention_num_buckets: 32 })).toBeNull();
  });

  it('memory planning refuses, with the numbers, a batch over the budget instead of letting ORT fail', async () => {
    const folder = await loadModelFolder(model);
    const attributor = new Attributor(attributionModel(folder), { memoryLimitMiB: 1 });
    try {
      const ex = attributionExample(folder, 'The pilot was tired, so '.repeat(60), ' he');
      await expect(attributor.run([ex])).rejects.toThrow(
        /needs about \d+ MiB for its activations and gradients, more than the memory budget of 1 MiB \(--memory-mib\)/,
      );
    } finally {
      await attributor.close();
    }
  });
});

describe('file names derived from data stay inside the run folder', () => {
  const hostile = ['../../escaped', '/etc/absolute', 'nul\u0000byte', '</script><b>markup</b>', 'x'.repeat(5000)];
  it.each(hostile.map((h) => [JSON.stringify(h).slice(0, 40), h]))('instruction set named %s', async (_, name) => {
    const base = mkdtempSync(join(tmp, 'names-'));
    const out = join(base, 'deep', 'run');
    const instr = join(base, 'instr.json');
    writeFileSync(instr, JSON.stringify({ name, instructions: ['Answer the question.'] }));
    const data = join(base, 'mc.jsonl');
    writeMc(data);
    expect(await runCommand.run(['--model', model, '--data', `mc:${data}`, '--instructions', instr, ...SMALL, '--out', out], capture())).toBe(0);
    // Nothing outside the run folder but the two inputs; every data-derived name is slug + hash.
    expect(
      walk(base)
        .filter((f) => !f.startsWith(join('deep', 'run')))
        .sort(),
    ).toEqual(['instr.json', 'mc.jsonl']);
    for (const f of walk(out).filter((x) => /^(scores|attribution)\//.test(x)))
      expect(f).toMatch(/^(scores\/original-|attribution\/)[a-z0-9_-]{1,40}-[0-9a-f]{8}\.json$/);
    expect(await reportCommand.run([out], { out: () => {}, err: () => {} })).toBe(0);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).not.toContain('<b>markup');
  });
});

describe('output conventions', () => {
  it('--json - writes JSON alone to stdout for explain, judge and run; the tables go to stderr', async () => {
    const bbq = join(tmp, 'bbq.jsonl');
    writeFileSync(bbq, jsonl([bbqRecord(0, 'ambig', 2), bbqRecord(1, 'disambig', 1)]));
    const preds = join(tmp, 'preds.jsonl');
    writeFileSync(
      preds,
      `${[
        { example_id: 0, pred: 2 },
        { example_id: 1, pred: 0 },
      ]
        .map((o) => JSON.stringify(o))
        .join('\n')}\n`,
    );
    const runDir = mkdtempSync(join(tmp, 'rel-'));
    mkdirSync(join(runDir, 'models'));
    await makeDefaultModel(join(runDir, 'models', 'm'));
    const [explain, judge, run] = await Promise.all([
      crispr(['explain', '--model', model, '--prompt', 'The pilot was tired, so', '--target', ' he', '--top', '3', '--json', '-']),
      crispr(['judge', '--data', bbq, '--predictions', preds, '--field', 'pred', '--bootstrap', '50', '--json', '-']),
      // Relative paths, as a user types them, run from the folder that holds them.
      crispr(['run', '--model', 'models/m', ...SMALL, '--out', 'runs/r', '--json', '-'], { cwd: runDir }),
    ]);
    expect([explain.code, judge.code, run.code]).toEqual([0, 0, 0]);
    const e = JSON.parse(explain.stdout);
    expect(e.sites.length).toBeGreaterThan(0);
    expect(e.model).toBe(model);
    expect(explain.stderr).toContain('top 3 neurons by attribution');
    expect(JSON.parse(judge.stdout).overall.accuracy).toBe(0.5);
    expect(judge.stderr).toContain('overall');
    const r = JSON.parse(run.stdout) as RunResults;
    expect(r.sweep.length).toBe(3);
    expect(run.stderr).toContain('results: runs/r/results.json');
    // Published files hold paths as the user typed them, never this machine's absolute paths.
    const published = readFileSync(join(runDir, 'runs', 'r', 'results.json'), 'utf8');
    expect(published).not.toContain(runDir);
    expect(r.model.id).toBe('models/m');
    expect(r.model.description).toBe('model folder models/m');
    expect(existsSync(join(runDir, '-'))).toBe(false);
  });

  it('exits 2 on usage errors and 1 on failures, on every command', async () => {
    const cases: [string[], number][] = [
      [[], 2],
      [['frobnicate'], 2],
      [['run', '--bogus'], 2],
      [['run', '--truncate', 'middle'], 2],
      [['explain', '--model', model], 2],
      [['judge', '--data', 'a', '--predictions', 'b', '--field', 'c', '--bootstrap', 'x'], 2],
      [['sites'], 2],
      [['inspect', '--model'], 2],
      [['prune', '--model', model], 2],
      [['import', 'gguf'], 2],
      [['data'], 2],
      [['data', 'expand', '--out', 'x.jsonl'], 2],
      [['sites', '--model', join(tmp, 'no-such-model')], 1],
      [['judge', '--data', join(tmp, 'no-such.jsonl'), '--predictions', 'b', '--field', 'c'], 1],
      [['run', '--help'], 0],
      [['report', '--bogus'], 2],
    ];
    const results: [string[], number | null, string][] = [];
    for (let i = 0; i < cases.length; i += 4) {
      const batch = await Promise.all(
        cases.slice(i, i + 4).map(async ([args]) => {
          const r = await crispr(args);
          return [args, r.code, r.stderr] as [string[], number | null, string];
        }),
      );
      results.push(...batch);
    }
    expect(results.map(([a, c]) => [a.join(' '), c])).toEqual(cases.map(([a, c]) => [a.join(' '), c]));
    expect(results[2]![2]).toMatch(/Unknown option '--bogus'[\s\S]*usage: crispr run/);
  });
});
