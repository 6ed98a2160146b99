/**
 * Progress of long stages with rate and ETA: a cli-progress bar on a terminal, plain lines
 * (one every few seconds and one at the end) otherwise, so logs and CI output stay readable.
 * Everything goes to stderr: stdout is for results (`--json -`).
 */
import cliProgress from 'cli-progress';
import type { CliIO } from '@crispr-bench/core';
import type { Progress } from '../pipeline/model-access.js';

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function formatRate(perSecond: number): string {
  return perSecond >= 10 ? perSecond.toFixed(0) : perSecond >= 1 ? perSecond.toFixed(1) : perSecond.toFixed(2);
}

export interface ProgressOptions {
  /** Draw a bar (default: stderr is a terminal). */
  tty?: boolean;
  /** Where the bar is drawn (default process.stderr). */
  stream?: NodeJS.WritableStream;
  /** Plain mode: at most one line per this many ms before the last (default 5000). */
  plainEveryMs?: number;
  now?: () => number;
}

export function progressReporter(io: CliIO, opts: ProgressOptions = {}): Progress {
  const tty = opts.tty ?? Boolean(process.stderr.isTTY);
  const every = opts.plainEveryMs ?? 5000;
  const now = opts.now ?? Date.now;
  const t0 = now();
  let start = 0;
  let lastDone = -1;
  let lastLine = 0;
  let multi: cliProgress.MultiBar | null = null;
  let bar: cliProgress.SingleBar | null = null;

  const print = (line: string) => {
    if (multi) {
      // Above the bar: log() buffers, update() redraws now and flushes it.
      multi.log(`${line}\n`);
      multi.update();
    } else io.err(line);
  };
  const endBar = () => {
    if (multi) {
      multi.update();
      multi.stop();
    }
    multi = null;
    bar = null;
  };
  return {
    stage(name) {
      endBar();
      lastDone = -1;
      start = now();
      lastLine = start;
      io.err(`[${formatDuration((now() - t0) / 1000)}] ${name}`);
    },
    step(done, total) {
      const t = now();
      if (done <= lastDone) {
        // The callee restarted its counter within the stage: rate and ETA from here.
        start = t;
        lastLine = t;
        endBar();
      }
      lastDone = done;
      const elapsed = (t - start) / 1000;
      const rate = done / Math.max(elapsed, 1e-3);
      const eta = rate > 0 ? (total - done) / rate : Infinity;
      if (tty) {
        if (!bar) {
          multi = new cliProgress.MultiBar(
            {
              stream: opts.stream ?? process.stderr,
              format: '  {bar} {value}/{total} | {rate}/s | ETA {eta_formatted} | {duration_formatted}',
              hideCursor: false,
              clearOnComplete: false,
              stopOnComplete: false,
              etaBuffer: 50,
              noTTYOutput: false,
              forceRedraw: true,
            },
            cliProgress.Presets.shades_classic,
          );
          bar = multi.create(total, done, { rate: formatRate(rate) });
          multi.update(); // draw now, not at the first tick
        } else {
          bar.setTotal(total);
          bar.update(done, { rate: formatRate(rate) });
        }
        if (done >= total) endBar();
        return;
      }
      if (done >= total) {
        io.err(`  ${done}/${total} in ${formatDuration(elapsed)} (${formatRate(rate)}/s)`);
      } else if (t - lastLine >= every) {
        lastLine = t;
        io.err(`  ${done}/${total} (${Math.floor((100 * done) / total)}%), ${formatRate(rate)}/s, ETA ${formatDuration(eta)}`);
      }
    },
    note: (line) => print(`  ${line}`),
  };
}
