import { describe, expect, it } from 'vitest';
import {
  UsageError,
  choiceOption,
  defineCommand,
  formatTable,
  helpRequest,
  intListOption,
  intOption,
  kindsOption,
  listOption,
  numberOption,
  requiredOption,
  runSubcommand,
  type CliCommand,
} from '../../src/cli/index.js';

describe('option helpers', () => {
  it('intOption: default, range, and a UsageError naming flag, value and form', () => {
    expect(intOption('top', undefined, { default: 20 })).toBe(20);
    expect(intOption('top', undefined)).toBeUndefined();
    expect(intOption('top', ' 7 ', { min: 0 })).toBe(7);
    expect(() => intOption('top', '1.5', { min: 0 })).toThrow(new UsageError("--top must be an integer >= 0, got '1.5'"));
    expect(() => intOption('batch', '0', { min: 1 })).toThrow("--batch must be an integer >= 1, got '0'");
    expect(() => intOption('n', '11', { min: 1, max: 10 })).toThrow("--n must be an integer >= 1 and <= 10, got '11'");
    expect(() => intOption('n', '', {})).toThrow(UsageError);
    expect(() => intOption('n', '99999999999999999999', {})).toThrow(UsageError);
  });
  it('numberOption: finite, exclusive bounds', () => {
    const frac = { default: 0.5, min: 0, max: 1, minExclusive: true, maxExclusive: true };
    expect(numberOption('dev-fraction', undefined, frac)).toBe(0.5);
    expect(numberOption('dev-fraction', '0.25', frac)).toBe(0.25);
    expect(() => numberOption('dev-fraction', '1', frac)).toThrow("--dev-fraction must be a number > 0 and < 1, got '1'");
    expect(() => numberOption('lambda', 'NaN', { min: 0 })).toThrow(UsageError);
    expect(() => numberOption('lambda', ' ', { min: 0 })).toThrow(UsageError);
    expect(() => numberOption('lambda', '-1', { min: 0 })).toThrow("--lambda must be a number >= 0, got '-1'");
  });
  it('choiceOption lists the allowed values', () => {
    expect(choiceOption('reduce', undefined, ['max', 'mean'], 'max')).toBe('max');
    expect(choiceOption('reduce', 'mean', ['max', 'mean'])).toBe('mean');
    expect(() => choiceOption('reduce', 'median', ['max', 'mean'], 'max')).toThrow("--reduce must be one of max, mean, got 'median'");
  });
  it('listOption and intListOption', () => {
    expect(listOption('categories', ' Age, SES ,')).toEqual(['Age', 'SES']);
    expect(() => listOption('categories', ' , ')).toThrow(UsageError);
    expect(intListOption('k', undefined, { default: [0, 1], min: 0 })).toEqual([0, 1]);
    expect(intListOption('k', '0, 4,8', { min: 0 })).toEqual([0, 4, 8]);
    expect(() => intListOption('k', '1,x', { min: 0 })).toThrow("--k must be an integer >= 0, got 'x' in '1,x'");
    expect(() => intListOption('prompt-ids', '-3', { min: 0 })).toThrow("--prompt-ids must be an integer >= 0, got '-3'");
  });
  it('kindsOption: all, ffn or known site kinds; a misspelt kind is refused', () => {
    expect(kindsOption('kinds', undefined)).toBe('all');
    expect(kindsOption('kinds', 'ffn')).toBe('ffn');
    expect(kindsOption('kinds', 'ffn_up, attn_v')).toEqual(['ffn_up', 'attn_v']);
    expect(() => kindsOption('kinds', 'ffn_up,ffn_upp')).toThrow(
      /--kinds must be all, ffn or comma-separated site kinds \(.*ffn_down\), got 'ffn_up,ffn_upp' \(unknown: ffn_upp\)/,
    );
    // Object prototype keys are not site kinds.
    expect(() => kindsOption('kinds', 'toString')).toThrow(UsageError);
  });
  it('requiredOption shows the placeholder', () => {
    expect(requiredOption('out', 'x')).toBe('x');
    expect(() => requiredOption('out', undefined, '<dir>')).toThrow(new UsageError('--out <dir> is required'));
  });
});

describe('formatTable', () => {
  it('aligns columns, sizes them to the widest cell, trims trailing blanks', () => {
    const rows = [
      { name: 'a', n: 1 },
      { name: 'longer', n: 120 },
    ];
    expect(
      formatTable(
        rows,
        [
          { header: 'name', value: (r) => r.name },
          { header: 'n', value: (r) => String(r.n), align: 'right' },
        ],
        { rule: true },
      ),
    ).toEqual(['name      n', '------  ---', 'a         1', 'longer  120']);
  });
  it('counts code points, honours minWidth and indent', () => {
    expect(
      formatTable(
        [{ v: '—' }],
        [
          { header: 'x', value: () => 'm' },
          { header: 'v', value: (r) => r.v, align: 'right', minWidth: 3 },
        ],
        { indent: '  ' },
      ),
    ).toEqual(['  x    v', '  m    —']);
  });
});

describe('help and subcommands', () => {
  const seen: string[][] = [];
  const sub = defineCommand({
    name: 'sub',
    summary: 's',
    usage: 'usage: crispr top sub',
    run: async (argv) => {
      seen.push(argv);
      return 0;
    },
  });
  const top: CliCommand = defineCommand({
    name: 'top',
    summary: 't',
    usage: 'usage: crispr top <sub>',
    subcommands: [sub],
    run: (argv, io) => runSubcommand(top, argv, io),
  });
  const io = () => {
    const out: string[] = [];
    return { out, io: { out: (l: string) => out.push(l), err: () => {} } };
  };
  it('helpRequest picks the deepest named subcommand, and ignores --help after --', () => {
    expect(helpRequest(top, ['--help'])).toBe('usage: crispr top <sub>');
    expect(helpRequest(top, ['sub', '-h'])).toBe('usage: crispr top sub');
    expect(helpRequest(top, ['bogus', '--help'])).toBe('usage: crispr top <sub>');
    expect(helpRequest(top, ['sub', '--', '--help'])).toBeNull();
    expect(helpRequest(top, ['sub'])).toBeNull();
  });
  it('defineCommand answers --help itself; runSubcommand dispatches and refuses missing or unknown names', async () => {
    const c = io();
    expect(await top.run(['sub', '--help'], c.io)).toBe(0);
    expect(c.out).toEqual(['usage: crispr top sub']);
    expect(await top.run(['sub', 'x'], c.io)).toBe(0);
    expect(seen).toEqual([['x']]);
    await expect(top.run([], c.io)).rejects.toThrow(/missing subcommand \(sub\)/);
    await expect(top.run(['nope'], c.io)).rejects.toThrow(new UsageError("unknown top subcommand 'nope' (sub)\n\nusage: crispr top <sub>"));
  });
});
