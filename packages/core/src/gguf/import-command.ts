/** `crispr import gguf <file.gguf> --out <dir> [--force]`. */
import { existsSync } from 'node:fs';
import { UsageError, UserError, consoleIO, parseCommandLine, type CliCommand, type CliIO } from '../types/cli.js';
import { GgufError } from './reader.js';
import { importGguf } from './import.js';

const USAGE = `usage: crispr import gguf <file.gguf> --out <dir> [--force]

Convert a Llama-family GGUF model (float32 / float16 tensors) into a model folder:
onnx/model.onnx (standard ONNX ops, opset 17), config.json, generation_config.json,
tokenizer.json and tokenizer_config.json (loadable by @huggingface/transformers).

options:
  --out <dir>   output folder (created if missing)
  --force       replace an existing import in <dir>`;

export const importCommand: CliCommand = {
  name: 'import',
  summary: 'import a model from another format (gguf)',
  usage: USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub !== 'gguf') {
      throw new UsageError(sub === undefined ? `missing format\n\n${USAGE}` : `unknown format '${sub}' (supported: gguf)\n\n${USAGE}`);
    }
    const { values, positionals } = parseCommandLine(rest, { out: { type: 'string', short: 'o' }, force: { type: 'boolean', default: false } }, USAGE, true);
    if (positionals.length !== 1) {
      throw new UsageError(`expected one GGUF file, got ${positionals.length}\n\n${USAGE}`);
    }
    const file = positionals[0]!;
    if (!values.out) throw new UsageError(`--out <dir> is required\n\n${USAGE}`);
    if (!existsSync(file)) throw new UserError(`${file}: no such file`);
    let summary: ReturnType<typeof importGguf>;
    try {
      summary = importGguf(file, values.out, { overwrite: values.force });
    } catch (e) {
      if (e instanceof GgufError) throw new UserError(e.message);
      throw e;
    }
    const c = summary.config;
    const types = Object.entries(summary.tensorTypes).map(([t, n]) => `${n} ${t}`).join(', ');
    io.out(`imported ${file} (GGUF v${summary.ggufVersion}, ${summary.tensorCount} tensors: ${types}; ${summary.parameterCount} parameters)`);
    io.out(`  llama: ${c.num_hidden_layers} layers, hidden ${c.hidden_size}, ${c.num_attention_heads} heads / ${c.num_key_value_heads} kv heads, ffn ${c.intermediate_size}, vocab ${c.vocab_size}`);
    io.out(`  wrote ${summary.files.map((f) => `${values.out}/${f}`).join(', ')}`);
    return 0;
  },
};
