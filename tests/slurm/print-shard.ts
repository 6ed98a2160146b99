/** Prints what `--shard auto` resolves to in this process's environment (run inside a SLURM array task by tests/slurm.test.ts). */
import { resolveShard } from '@crispr-bench/bench';

process.stdout.write(`${JSON.stringify({ task: process.env.SLURM_ARRAY_TASK_ID, shard: resolveShard('auto') })}\n`);
