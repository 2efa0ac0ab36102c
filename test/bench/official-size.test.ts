/**
 * The pure pieces of bench/official-size.mjs: the cache key of the official-size model, and the
 * summary the README's table is made from. The bench itself is a figure, never a test.
 */
import { describe, expect, it } from 'vitest';
import { cacheKey, exportArgs, RECIPE } from '../../bench/official-model.mjs';
import { formatTable, pairedRatio, summarize } from '../../bench/official-table.mjs';

describe('official-size model cache key', () => {
  const sources = [
    { path: 'tools/export.py', bytes: Buffer.from('print(1)\n') },
    { path: 'tools/hita/gpt.py', bytes: Buffer.from('x = 2\n') },
  ];

  it('is the same for the same recipe and sources', () => {
    expect(cacheKey(RECIPE, sources)).toBe(
      cacheKey(
        { ...RECIPE },
        sources.map((s) => ({ ...s })),
      ),
    );
    expect(cacheKey(RECIPE, sources)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('changes with any recipe field, source byte or source path', () => {
    const key = cacheKey(RECIPE, sources);
    expect(cacheKey({ ...RECIPE, seed: 1 }, sources)).not.toBe(key);
    expect(cacheKey({ ...RECIPE, precisions: ['int8'] }, sources)).not.toBe(key);
    const edited = [sources[0]!, { ...sources[1]!, bytes: Buffer.from('x = 3\n') }];
    expect(cacheKey(RECIPE, edited)).not.toBe(key);
    const renamed = [sources[0]!, { ...sources[1]!, path: 'tools/hita/other.py' }];
    expect(cacheKey(RECIPE, renamed)).not.toBe(key);
  });

  it('asks export.py for a generate-only model with both quantized graphs', () => {
    const argv = exportArgs(RECIPE);
    expect(argv).toContain('--no-encoder');
    expect(argv.join(' ')).toContain('--gpt-precision int8,int4');
    expect(exportArgs({ ...RECIPE, encoder: true })).not.toContain('--no-encoder');
  });
});

describe('official-size summary', () => {
  const quality = {
    holistic: { top1Agreement: 0.99, meanKl: 1e-4 },
    patch: { top1Agreement: 0.98, meanKl: 2e-4 },
    maxAbsLogitDiff: 0.1,
  };
  const images = {
    fp32: { seconds: [20, 16, 30], gptSeconds: [16, 12, 26], decodeSeconds: [4, 4, 4] },
    int8: { seconds: [9, 8, 10], gptSeconds: [5, 4, 6], decodeSeconds: [4, 4, 4] },
    pytorch: { seconds: [50], gptSeconds: [40], decodeSeconds: [10] },
  };
  const steps = {
    fp32: { step2: 25, step8: 40 },
    int8: { step2: 10, step8: 50 },
    pytorch: { step2: 50, step8: 80 },
  };
  const rows = summarize({
    images,
    steps,
    quality: { int8: quality },
    precisions: ['fp32', 'int8'],
  });

  it('takes medians per variant and ratios against fp32 and PyTorch of the same run', () => {
    expect(rows.map((r) => r.variant)).toEqual(['fp32', 'int8', 'pytorch']);
    expect(rows.map((r) => r.images)).toEqual([3, 3, 1]);
    const [fp32, int8, torch] = rows;
    expect(fp32).toMatchObject({
      imageSeconds: 20,
      gptSeconds: 16,
      gptVsFp32: 1,
      gptVsPytorch: 2.5,
    });
    expect(int8).toMatchObject({
      gptSeconds: 5,
      gptVsFp32: 3.2,
      gptVsPytorch: 8,
      decodeShare: 0.444,
    });
    expect(int8!.stepVsFp32).toEqual({ step2: 2.5, step8: 0.8 });
    expect(int8!.stepVsPytorch).toEqual({ step2: 5, step8: 1.6 });
    expect(int8!.quality).toBe(quality);
    expect(torch!.quality).toBeNull();
  });

  it('pairs each round with the baseline of the same round', () => {
    // A busy first round: the ratio of medians would read 10 / 6 = 1.67.
    expect(pairedRatio([100, 10, 10], [50, 5, 6])).toBe(2);
    expect(pairedRatio([40], [5, 4, 6])).toBe(8);
    expect(pairedRatio(undefined, [5])).toBeNull();
  });

  it('checks the GPT phase against 3.5 s and prints the verdict on time and on ratio', () => {
    expect(rows.map((r) => r.meetsGptTarget)).toEqual([false, false, false]);
    const table = formatTable(rows, { rounds: 3, past: 284, threads: 2 });
    expect(table).toContain('| int8 | 9.00 | 5.00 | 4.00 (44 %) | 10.0 (2.50× / 5.00×) |');
    expect(table).toContain(
      'fastest int8 5.00 s, 3.20× fp32 in this run: not met on time, not met on the ratio.',
    );
    const fast = summarize({
      images: { ...images, int8: { ...images.int8, gptSeconds: [3, 3, 3] } },
      steps,
      quality: {},
      precisions: ['fp32', 'int8'],
    });
    expect(fast[1]!.meetsGptTarget).toBe(true);
    expect(formatTable(fast, { rounds: 3, past: 284, threads: 2 })).toContain(
      'met on time, met on the ratio.',
    );
  });

  it("gives every GPT phase against an earlier export's fp32 when one ran, and judges the target by it", () => {
    const before = { seconds: [24, 20, 34], gptSeconds: [20, 16, 30], decodeSeconds: [4, 4, 4] };
    const withBefore = summarize({
      images: { ...images, 'fp32-before': before },
      steps: { ...steps, 'fp32-before': { step2: 30, step8: 45 } },
      quality: {},
      precisions: ['fp32', 'int8', 'fp32-before'],
    });
    expect(withBefore.map((r) => r.variant)).toEqual(['fp32', 'int8', 'fp32-before', 'pytorch']);
    expect(withBefore[1]).toMatchObject({ gptVsFp32: 3.2, gptVsBefore: 4 });
    expect(withBefore[0]!.gptVsBefore).toBe(1.25);
    const table = formatTable(withBefore, { rounds: 3, past: 284, threads: 2 });
    expect(table).toContain('| GPT phase vs fp32-before |');
    // The fastest variant is not the baseline itself, and the ratio is the one against it.
    expect(table).toContain(
      'fastest int8 5.00 s, 4.00× fp32-before in this run: not met on time, met on the ratio.',
    );
    expect(rows[0]!.gptVsBefore).toBeNull(); // no baseline ran: no ratio
  });
});
