#!/usr/bin/env node
/**
 * The GPT's output head alone, split (tools/hita/head_split.py) against unsplit, at a model's
 * sizes (issue 12). A whole GPT step on shared cores is too noisy to show a few milliseconds; the
 * head alone shows what the split saves. Prints one JSON line per weight kind and row count and
 * appends them to bench/results/head-probe.jsonl.
 *
 *   node bench/head-probe.mjs [--model models/hita-tiny-emoji] [--rows 1,2,8,16] [--rounds 61]
 *       [--threads 2] [--label TEXT]
 *
 * The graphs (random weights at the manifest's dim, V and M) come from tools/head_probe_graphs.py
 * into a temporary directory. Every call feeds rows past M (a patch-phase decode step); each
 * round times both graphs back to back (5 calls each, order alternating) and the speed-up is the
 * median of the per-round ratios. It also checks that both give bitwise the same logits.
 */
import { Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { median, openSession, parseFlags, recordFigure } from './probe-support.mjs';

const args = parseFlags({
  model: 'models/hita-tiny-emoji',
  rows: [1, 2, 8, 16],
  rounds: 61,
  threads: cpus().length,
  label: '',
});
const manifest = JSON.parse(readFileSync(join(resolve(args.model), 'model.json'), 'utf8'));
const { dim, vocabSize: v, numHolistic: m } = manifest.gpt;
const dir = mkdtempSync(join(tmpdir(), 'head-probe-'));
const made = spawnSync(
  '/usr/bin/python3',
  [
    'tools/head_probe_graphs.py',
    '--out',
    dir,
    '--dim',
    String(dim),
    '--vocab',
    String(v),
    '--m',
    String(m),
  ],
  { encoding: 'utf8' },
);
if (made.status !== 0) throw new Error(`head_probe_graphs.py failed: ${made.stderr}`);
try {
  for (const weights of ['', '-int8']) {
    const unsplit = await openSession(join(dir, `head-unsplit${weights}.onnx`), args.threads);
    const split = await openSession(join(dir, `head-split${weights}.onnx`), args.threads);
    for (const rows of args.rows) {
      const feeds = {
        x: new ort.Tensor(
          'float32',
          Float32Array.from({ length: rows * dim }, (_, i) => Math.sin(i)),
          [rows, 1, dim],
        ),
        position_ids: new ort.Tensor('int64', new BigInt64Array(rows).fill(BigInt(m + 5)), [
          rows,
          1,
        ]),
      };
      const [a, b] = [await unsplit.run(feeds), await split.run(feeds)];
      const bitwiseEqual = Buffer.from(a.logits.data.buffer).equals(
        Buffer.from(b.logits.data.buffer),
      );
      const ms = { unsplit: [], split: [] };
      for (let round = 0; round < args.rounds; round++) {
        const order =
          round % 2
            ? [
                ['unsplit', unsplit],
                ['split', split],
              ]
            : [
                ['split', split],
                ['unsplit', unsplit],
              ];
        for (const [name, session] of order) {
          const start = process.hrtime.bigint();
          for (let i = 0; i < 5; i++) await session.run(feeds);
          ms[name].push(Number(process.hrtime.bigint() - start) / 5e6);
        }
      }
      recordFigure('head-probe', {
        model: manifest.id,
        threads: args.threads,
        label: args.label,
        weights: weights ? 'MatMulNBits 8-bit (the int8 and int4 graphs head)' : 'fp32',
        rows,
        bitwiseEqual,
        msPerCall: { unsplit: +median(ms.unsplit).toFixed(3), split: +median(ms.split).toFixed(3) },
        speedup: +median(ms.unsplit.map((u, r) => u / ms.split[r])).toFixed(3),
        rounds: args.rounds,
        loadavg: loadavg(),
      });
    }
    await Promise.all([unsplit.release(), split.release()]);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
