/** `crispr import gguf <file.gguf> --out <dir> [--force]`: `import` is the parent, one subcommand per format. */
import { existsSync } from 'node:fs';
import { UserError, consoleIO, defineCommand, optionSpecs, parseCommandLine, runSubcommand, UsageError, type CliCommand, type CliIO } from '../types/cli.js';
import { GgufError } from '../gguf/reader.js';
import { importGguf } from '../gguf/import.js';
import { requiredOption } from '../types/cli-options.js';

const GGUF_USAGE = `usage: crispr import gguf <file.gguf> --out <dir> [--force]

Convert a Llama-family GGUF model (float32 / float16 tensors) into a model folder:
onnx/model.onnx (standard ONNX ops, opset 17), config.json, generation_config.json,
tokenizer.json and tokenizer_config.json (loadable by @huggingface/transformers).

options:
  --out <dir>   output folder (created if missing)
  --force       replace an existing import in <dir>`;

const USAGE = `usage: crispr import <format> ...

Import a model from another format into a model folder.

formats:
  gguf   a Llama-family GGUF file (crispr import gguf --help)`;

export const importGgufCommand: CliCommand = defineCommand({
  name: 'gguf',
  summary: 'convert a Llama-family GGUF file into a model folder',
  usage: GGUF_USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const { values, positionals } = parseCommandLine(argv, optionSpecs(['out'], ['force']), GGUF_USAGE, true);
    if (positionals.length !== 1) {
      throw new UsageError(`expected one GGUF file, got ${positionals.length}\n\n${GGUF_USAGE}`);
    }
    const file = positionals[0]!;
    const out = requiredOption('out', values.out, '<dir>', GGUF_USAGE);
    if (!existsSync(file)) throw new UserError(`${file}: no such file`);
    let summary: ReturnType<typeof importGguf>;
    try {
      summary = importGguf(file, out, { overwrite: values.force });
    } catch (e) {
      if (e instanceof GgufError) throw new UserError(e.message);
      throw e;
    }
    const c = summary.config;
    const types = Object.entries(summary.tensorTypes)
      .map(([t, n]) => `${n} ${t}`)
      .join(', ');
    io.out(`imported ${file} (GGUF v${summary.ggufVersion}, ${summary.tensorCount} tensors: ${types}; ${summary.parameterCount} parameters)`);
    io.out(
      `  llama: ${c.num_hidden_layers} layers, hidden ${c.hidden_size}, ${c.num_attention_heads} heads / ${c.num_key_value_heads} kv heads, ffn ${c.intermediate_size}, vocab ${c.vocab_size}`,
    );
    io.out(`  wrote ${summary.files.map((f) => `${out}/${f}`).join(', ')}`);
    return 0;
  },
});

export const importCommand: CliCommand = defineCommand({
  name: 'import',
  summary: 'import a model from another format (gguf)',
  usage: USAGE,
  subcommands: [importGgufCommand],
  run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    return runSubcommand(importCommand, argv, io);
  },
});
