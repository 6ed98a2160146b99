/** `@crispr-bench/bench/cli`: bench's own `crispr` commands (the registry wires in every package's). */
export { runCommand } from './commands/run.js';
export { sweepCommand, mergeCommand } from './commands/sweep.js';
export { judgeCommand, type JudgeJson } from './commands/judge.js';
export { organismCommand, organismTrainCommand } from './commands/organism.js';
export { gateCommand } from './commands/gate.js';
export { slurmCommand } from './commands/slurm.js';
