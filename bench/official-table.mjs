/**
 * The figures of bench/official-size.mjs: medians per variant, the ratios against fp32 and the
 * PyTorch loop of the same run, issue 12's GPT-phase target, and the Markdown table the README shows.
 */
import { median } from './probe-support.mjs';

/** Issue 12: fp32 AR's GPT phase "today" (569 steps at about 25 ms) and the 4× target under it. */
export const GPT_TARGET = Object.freeze({ todaySeconds: 14, speedup: 4, seconds: 3.5 });

/** The variant official-size.mjs --baseline adds: an earlier export's fp32 graph, same weights. */
export const BEFORE = 'fp32-before';

const ratio = (base, x) => (base === undefined || x === undefined ? null : +(base / x).toFixed(2));

/**
 * The median over rounds of base[i] / xs[i]: the variants of a round ran one after another, so
 * a round's ratio sees one load, where a ratio of medians can pair a quiet round with a busy one.
 * Rounds without both figures (the PyTorch loop may run in the first rounds only) are left out.
 */
export function pairedRatio(base, xs) {
  const n = Math.min(base?.length ?? 0, xs?.length ?? 0);
  if (n === 0) return null;
  return +median(Array.from({ length: n }, (_, i) => base[i] / xs[i])).toFixed(2);
}

/**
 * One row per variant (the precisions and `fp32-before` when a baseline ran, then `pytorch` when it ran):
 * images: {variant: {seconds: [], gptSeconds: [], decodeSeconds: []}}, one entry per round;
 * steps: {variant: {step<B>: median ms}}; quality: {precision: compare() result}.
 */
export function summarize({ images, steps, quality, precisions }) {
  const variants = [...precisions, ...('pytorch' in images ? ['pytorch'] : [])];
  const med = (variant, key) => (images[variant]?.[key] ? median(images[variant][key]) : undefined);
  return variants.map((variant) => {
    const [seconds, gpt, decode] = ['seconds', 'gptSeconds', 'decodeSeconds'].map((k) =>
      med(variant, k),
    );
    const stepMs = steps[variant] ?? {};
    const stepRatio = (base) =>
      Object.fromEntries(Object.entries(stepMs).map(([k, ms]) => [k, ratio(base?.[k], ms)]));
    return {
      variant,
      images: images[variant]?.seconds?.length ?? 0,
      imageSeconds: seconds,
      gptSeconds: gpt,
      decodeSeconds: decode,
      decodeShare: seconds ? +(decode / seconds).toFixed(3) : null,
      gptVsFp32: pairedRatio(images.fp32?.gptSeconds, images[variant]?.gptSeconds),
      gptVsPytorch: pairedRatio(images.pytorch?.gptSeconds, images[variant]?.gptSeconds),
      gptVsBefore: pairedRatio(images[BEFORE]?.gptSeconds, images[variant]?.gptSeconds),
      stepMs,
      stepVsFp32: stepRatio(steps.fp32),
      stepVsPytorch: stepRatio(steps.pytorch),
      quality: quality[variant] ?? null,
      meetsGptTarget: gpt === undefined ? null : gpt <= GPT_TARGET.seconds,
    };
  });
}

const fixed = (x, digits) => (x === undefined || x === null ? '—' : x.toFixed(digits));
const times = (x) => (x === null || x === undefined ? '—' : `${x.toFixed(2)}×`);

/** "ms (×fp32 / ×PyTorch)": how many times faster than each baseline; a baseline's own cell is plain ms. */
function stepCell(row, key) {
  const ms = fixed(row.stepMs[key], 1);
  if (row.variant === 'pytorch') return ms;
  const vsFp32 = row.variant === 'fp32' ? '—' : times(row.stepVsFp32[key]);
  return `${ms} (${vsFp32} / ${times(row.stepVsPytorch[key])})`;
}

/** Markdown: seconds and ms are medians; ratios are against fp32 and PyTorch of the same run. */
export function formatTable(rows, { rounds, past, threads }) {
  const stepKeys = Object.keys(rows.find((r) => r.variant === 'fp32')?.stepMs ?? {});
  const hasBefore = rows.some((r) => r.variant === BEFORE);
  const head = [
    'variant',
    'image s',
    'GPT s',
    'decode s (share)',
    ...stepKeys.map((k) => `ms/step, ${k.slice(4)} rows (vs fp32 / vs PyTorch)`),
    'GPT phase vs fp32 / vs PyTorch',
    ...(hasBefore ? ['GPT phase vs fp32-before'] : []),
    'top-1 vs fp32 (holistic / patch)',
    'KL vs fp32 (holistic / patch)',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const q = r.quality;
    lines.push(
      `| ${[
        r.variant,
        fixed(r.imageSeconds, 2),
        fixed(r.gptSeconds, 2),
        `${fixed(r.decodeSeconds, 2)} (${r.decodeShare === null ? '—' : `${Math.round(r.decodeShare * 100)} %`})`,
        ...stepKeys.map((k) => stepCell(r, k)),
        `${times(r.gptVsFp32)} / ${times(r.gptVsPytorch)}`,
        ...(hasBefore ? [times(r.gptVsBefore)] : []),
        q ? `${q.holistic.top1Agreement} / ${q.patch.top1Agreement}` : '—',
        q ? `${q.holistic.meanKl} / ${q.patch.meanKl}` : '—',
      ].join(' | ')} |`,
    );
  }
  const best = rows
    .filter((r) => r.variant !== 'pytorch' && r.variant !== BEFORE && r.gptSeconds !== undefined)
    .sort((a, b) => a.gptSeconds - b.gptSeconds)[0];
  const { todaySeconds, speedup, seconds } = GPT_TARGET;
  // The target is against fp32 "today": the earlier export when it ran, else this run's fp32.
  const [base, against] = hasBefore ? ['gptVsBefore', BEFORE] : ['gptVsFp32', 'fp32'];
  lines.push(
    '',
    `Medians of ${rounds} round(s) (images per variant: ${rows.map((r) => `${r.variant} ${r.images}`).join(', ')}), ` +
      `${threads} threads, step cache of ${past} positions; every ratio is against a baseline of the same run, the GPT phase's the median of per-round ratios.`,
    best
      ? `GPT-phase target (${speedup}× under fp32's ~${todaySeconds} s: ≤ ${seconds} s): fastest ${best.variant} ` +
          `${best.gptSeconds.toFixed(2)} s, ${times(best[base])} ${against} in this run: ` +
          `${best.gptSeconds <= seconds ? 'met' : 'not met'} on time, ` +
          `${(best[base] ?? 0) >= speedup ? 'met' : 'not met'} on the ratio.`
      : '',
  );
  return lines.join('\n');
}
