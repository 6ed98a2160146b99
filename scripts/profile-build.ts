/**
 * Memory and time of building one attribution bucket's graph and session, then running it:
 * peak RSS after each step. Run: pnpm tsx scripts/profile-build.ts <stories|t5tiny|flan> [B] [P] [T]
 * (T: target tokens; decoder-only buckets here are the full-sequence graph of P tokens).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAttributionGraph, createSession, importGguf, loadModelFolder, makeT5Folder, tensor, type Tensor } from '../packages/core/src/index.js';
import { ROOT } from './lib/benchmarks-md.js';
import { FLAN_T5_SMALL_SHAPE } from '@crispr-bench/testing';

process.env.ORT_DISABLE_TELEMETRY = '1';
const [which = 'flan', B = '8', P = '128', T = '4'] = process.argv.slice(2);
const mib = (x: number) => `${(x / 2 ** 20).toFixed(0)} MiB`;
const peak = () => mib(process.resourceUsage().maxRSS * 1024);
const tmp = mkdtempSync(join(tmpdir(), 'crispr-profile-build-'));
try {
  const dir = join(tmp, which);
  if (which === 'stories') importGguf(join(process.env.CRISPR_ASSETS ?? join(ROOT, '..', 'shared', 'assets'), 'models/stories260K/stories260K.gguf'), dir);
  else if (which === 't5tiny')
    makeT5Folder(dir, { ...FLAN_T5_SMALL_SHAPE, dModel: 64, dKv: 16, dFf: 128, numLayers: 2, numDecoderLayers: 2, numHeads: 4 }, { mergedDecoder: false });
  else makeT5Folder(dir, FLAN_T5_SMALL_SHAPE, { mergedDecoder: false });
  const f = await loadModelFolder(dir);
  console.log(`loaded: peak RSS ${peak()}`);
  const bucket = { batch: Number(B), inputLength: Number(P), targetLength: Number(T) };
  let t = performance.now();
  const g = await buildAttributionGraph(f.graph, f.kind, f.sites, bucket);
  console.log(`graph ${B}x${P}x${T} (${g.model.graph.nodes.length} nodes): ${(performance.now() - t).toFixed(0)} ms, peak RSS ${peak()}`);
  t = performance.now();
  const s = await createSession(g.model);
  console.log(`session: ${(performance.now() - t).toFixed(0)} ms, peak RSS ${peak()}`);
  const feeds: Record<string, Tensor> = {};
  for (const inp of g.model.graph.inputs) {
    const x = tensor(
      inp.dtype,
      (inp.shape ?? []).map((d) => (typeof d === 'number' ? d : Number(B))),
    );
    if (inp.name.includes('mask')) (x.data as Float32Array | BigInt64Array).fill((inp.dtype === 'int64' ? 1n : 1) as never);
    else if (inp.name === g.promptIndex) (x.data as BigInt64Array).forEach((_, i, a) => (a[i] = BigInt(i))); // one prompt per row
    feeds[inp.name] = x;
  }
  for (let i = 0; i < 3; i++) {
    t = performance.now();
    await s.run(feeds);
    console.log(`run ${i + 1}: ${(performance.now() - t).toFixed(0)} ms, peak RSS ${peak()}`);
  }
  await s.release();
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
