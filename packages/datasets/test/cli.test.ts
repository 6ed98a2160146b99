import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError, type CliIO } from '@crispr-bench/core/common';
import { dataCommand } from '../src/cli/index.js';
import { BBQ_FILES, fetchBbq, sha256Hex } from '../src/bbq/fetch.js';
import { loadBbqFile } from '../src/bbq/loader.js';
import { expandTemplates, toBbqJsonl } from '../src/bbq/expander.js';
import { BBQ_DATA, BBQ_TEMPLATES, FIXTURES, HAVE_BBQ_DATA, HAVE_BBQ_TEMPLATES, SKIP_REASON } from './helpers.js';

function captureIO(): CliIO & { outLines: string[]; errLines: string[] } {
  const outLines: string[] = [];
  const errLines: string[] = [];
  return { outLines, errLines, out: (l) => outLines.push(l), err: (l) => errLines.push(l) };
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'crispr-datasets-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('crispr data: usage', () => {
  it('bad usage is a UserError with a clear message', async () => {
    await expect(dataCommand.run(['bogus'], captureIO())).rejects.toThrow(UserError);
    await expect(dataCommand.run(['expand', '--out', 'x.jsonl'], captureIO())).rejects.toThrow(/--category is required/);
    await expect(dataCommand.run(['fetch', 'squad', '--out', tmp], captureIO())).rejects.toThrow(/expected 'bbq'/);
    await expect(dataCommand.run(['fetch', 'bbq'], captureIO())).rejects.toThrow(/--out <dir> is required/);
    await expect(dataCommand.run(['check', 'x', '--on-bad-line', 'maybe'], captureIO())).rejects.toThrow(
      /--on-bad-line must be one of error, skip, got 'maybe'/,
    );
    const io = captureIO();
    expect(await dataCommand.run(['--help'], io)).toBe(0);
    expect(io.outLines.join('\n')).toMatch(/crispr data fetch bbq --out <dir>/);
    expect(dataCommand.name).toBe('data');
  });

  it('check --on-bad-line skip counts and reports bad lines', async () => {
    const io = captureIO();
    expect(await dataCommand.run(['check', join(FIXTURES, 'bbq-mixed.jsonl'), '--on-bad-line', 'skip'], io)).toBe(1);
    expect(io.outLines[0]).toBe('3 valid items');
    expect(io.errLines[0]).toBe('skipped 3 bad line(s):');
    expect(io.errLines[2]).toContain('bbq-mixed.jsonl:4: additional_metadata.stereotyped_groups: missing');
    await expect(dataCommand.run(['check', join(FIXTURES, 'bbq-mixed.jsonl')], captureIO())).rejects.toThrow(/bbq-mixed.jsonl:2: invalid JSON/);
  });
});

describe('crispr data fetch bbq', () => {
  it('offline: fails with a clear message saying what to download by hand and where', async () => {
    const out = join(tmp, 'offline');
    const err = await dataCommand.run(['fetch', 'bbq', '--out', out, '--base-url', 'http://127.0.0.1:9/', '--timeout', '10'], captureIO()).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(UserError);
    // undici refuses port 9 outright ("bad port"); any network failure takes the same path.
    expect(err!.message).toMatch(/^could not download http:\/\/127\.0\.0\.1:9\/Age\.jsonl: .+ This machine may be offline/);
    expect(err!.message).toContain('https://github.com/nyu-mll/BBQ/tree/bea11bd/data');
    expect(err!.message).toContain('data/SES.jsonl');
    expect(err!.message).toContain(`put them in ${out}/`);
    expect(await readdir(out)).toEqual([]);
  });

  it('pins the six available files by sha256 and the other five by the paper counts', () => {
    expect(BBQ_FILES.filter((f) => f.sha256).map((f) => f.category)).toEqual([
      'Age',
      'Disability_status',
      'Nationality',
      'Physical_appearance',
      'Religion',
      'Sexual_orientation',
    ]);
    expect(BBQ_FILES.reduce((a, f) => a + (f.sha256 ? f.items : 0), 0)).toBe(11956);
    expect(BBQ_FILES.length).toBe(11);
  });

  describe.skipIf(!HAVE_BBQ_DATA || !HAVE_BBQ_TEMPLATES)(`from a local server${HAVE_BBQ_DATA ? '' : ` (skipped: ${SKIP_REASON})`}`, () => {
    let server: Server;
    let base: string;
    const files = new Map<string, Buffer>();
    beforeAll(async () => {
      for (const c of ['Age', 'Religion']) files.set(`/ok/${c}.jsonl`, await readFile(join(BBQ_DATA, `${c}.jsonl`)));
      const rel = await readFile(join(BBQ_DATA, 'Religion.jsonl'));
      files.set('/tampered/Religion.jsonl', Buffer.from(rel.toString('utf8').replace('Muslim', 'Muslin')));
      // No official SES file here: the expander's BBQ-sized output has the paper's line count.
      const ses = toBbqJsonl(await expandTemplates(BBQ_TEMPLATES, 'SES', { seed: 2 }));
      files.set('/ok/SES.jsonl', Buffer.from(ses));
      files.set('/short/SES.jsonl', Buffer.from(`${ses.split('\n').slice(0, 100).join('\n')}\n`));
      server = createServer((req, res) => {
        const body = files.get(req.url ?? '');
        if (!body) {
          res.writeHead(404);
          res.end('not found');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        res.end(body);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const addr = server.address();
      base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    });
    afterAll(async () => {
      await new Promise<void>((r) => server.close(() => r()));
    });

    it('downloads and verifies sha256; then verifies files already in place without the network', async () => {
      const out = join(tmp, 'ok');
      const io = captureIO();
      expect(await dataCommand.run(['fetch', 'bbq', '--out', out, '--categories', 'Age,Religion,SES', '--base-url', `${base}/ok/`], io)).toBe(0);
      expect(io.outLines.at(-1)).toMatch(/3 BBQ file\(s\).*2 sha256-verified, 1 checked by line count/);
      expect(sha256Hex(await readFile(join(out, 'Age.jsonl')))).toBe(BBQ_FILES[0]!.sha256);
      expect((await loadBbqFile(join(out, 'Religion.jsonl'))).items.length).toBe(1200);
      const again = await fetchBbq({ out, categories: ['Age', 'Religion', 'SES'], baseUrl: 'http://127.0.0.1:9/' });
      expect(again.map((f) => [f.category, f.present, f.verified])).toEqual([
        ['Age', true, 'sha256'],
        ['Religion', true, 'sha256'],
        ['SES', true, 'count'],
      ]);
    });

    it('rejects a file whose sha256 differs, or an unpinned file with the wrong line count', async () => {
      const out = join(tmp, 'bad');
      await expect(fetchBbq({ out, categories: ['Religion'], baseUrl: `${base}/tampered/` })).rejects.toThrow(
        /Religion\.jsonl: downloaded file does not verify: sha256 mismatch: expected cb9555f9/,
      );
      expect(existsSync(join(out, 'Religion.jsonl'))).toBe(false);
      await expect(fetchBbq({ out, categories: ['SES'], baseUrl: `${base}/short/` })).rejects.toThrow(
        /expected 6864 lines \(the BBQ paper's count for SES\), got 100/,
      );
      await expect(fetchBbq({ out, categories: ['Gender_identity'], baseUrl: `${base}/ok/` })).rejects.toThrow(/HTTP 404/);
    });
  });
});

describe.skipIf(!HAVE_BBQ_TEMPLATES)(`crispr data expand${HAVE_BBQ_TEMPLATES ? '' : ` (skipped: ${SKIP_REASON})`}`, () => {
  it('writes BBQ-style SES that the loader accepts, with every target derived', async () => {
    const out = join(tmp, 'SES.jsonl');
    const io = captureIO();
    expect(await dataCommand.run(['expand', '--templates', BBQ_TEMPLATES, '--category', 'SES', '--out', out, '--seed', '1'], io)).toBe(0);
    expect(io.outLines[0]).toBe(`wrote 6864 items (1716 filled templates x 4) to ${out}`);
    expect(io.outLines.at(-1)).toBe('stereotyped target not derivable: 0');
    const r = await loadBbqFile(out);
    expect(r.items.length).toBe(6864);
    expect(new Set(r.items.map((i) => i.category))).toEqual(new Set(['SES']));
    await expect(dataCommand.run(['expand', '--templates', BBQ_TEMPLATES, '--category', 'Race_x_gender', '--out', out], captureIO())).rejects.toThrow(
      /intersectional/,
    );
  });
});
