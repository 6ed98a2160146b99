/**
 * `--help` on every registered command and subcommand, through the real CLI (a child process,
 * as a user runs it): exit 0, the command's own usage line first on stdout, nothing on stderr.
 */
import { describe, expect, it } from 'vitest';
import type { CliCommand } from '@crispr-bench/core';
import { commands } from '../src/cli/registry.js';
import { crispr } from '../../../tests/cli-process.js';

/** Every command path: `run`, `data`, `data expand`, ... */
function paths(cmds: readonly CliCommand[], prefix: string[] = []): string[][] {
  return cmds.flatMap((c) => [[...prefix, c.name], ...paths(c.subcommands ?? [], [...prefix, c.name])]);
}

const all = paths(commands);

describe('crispr <command> --help', () => {
  it('covers the commands and subcommands a user types', () => {
    const names = all.map((p) => p.join(' '));
    for (const n of [
      'run',
      'judge',
      'data',
      'data expand',
      'data fetch',
      'data check',
      'organism',
      'organism train',
      'import',
      'import gguf',
      'report',
      'gate',
    ]) {
      expect(names).toContain(n);
    }
  });

  it.each(all.map((p) => [p.join(' '), p] as const))('crispr %s --help', async (_, path) => {
    // Through the process: the registry, main.ts's dispatch and the command itself.
    const r = await crispr([...path, '--help']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout.split('\n')[0]).toMatch(new RegExp(`^usage: crispr ${path.join(' ')}( |$)`));
  });

  it('-h is --help; in-process run() answers it the same way (defineCommand) for every command path', async () => {
    const r = await crispr(['organism', 'train', '-h']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: crispr organism train /);
    for (const path of all) {
      const out: string[] = [];
      const top = commands.find((c) => c.name === path[0])!;
      expect(await top.run([...path.slice(1), '-h'], { out: (l) => out.push(l), err: () => {} })).toBe(0);
      expect(out[0]).toMatch(new RegExp(`^usage: crispr ${path.join(' ')}( |$)`));
    }
  });

  it("a subcommand's --help is its own usage, not the parent's", async () => {
    const r = await crispr(['data', 'expand', '--help']);
    expect(r.stdout).toContain('--category <Cat>');
    expect(r.stdout).not.toContain('crispr data fetch');
  });
});
