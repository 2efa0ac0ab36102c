// Types of official-table.mjs for the TypeScript that imports it (test/bench/).
export const GPT_TARGET: Readonly<{ todaySeconds: number; speedup: number; seconds: number }>;
/** The variant name of an earlier export's fp32 graph (official-size.mjs --baseline). */
export const BEFORE: 'fp32-before';

interface Agreement {
  top1Agreement: number;
  meanKl: number;
}
export interface Quality {
  holistic: Agreement;
  patch: Agreement;
  maxAbsLogitDiff: number;
}
type Ratios = Record<string, number | null>;
export interface SummaryRow {
  variant: string;
  /** images the medians are over */
  images: number;
  imageSeconds: number | undefined;
  gptSeconds: number | undefined;
  decodeSeconds: number | undefined;
  decodeShare: number | null;
  gptVsFp32: number | null;
  gptVsPytorch: number | null;
  /** against the earlier export's fp32 (`fp32-before`), null when none ran */
  gptVsBefore: number | null;
  stepMs: Record<string, number>;
  stepVsFp32: Ratios;
  stepVsPytorch: Ratios;
  quality: Quality | null;
  meetsGptTarget: boolean | null;
}
export function pairedRatio(base?: number[], xs?: number[]): number | null;
export function summarize(input: {
  images: Record<string, Record<string, number[]>>;
  steps: Record<string, Record<string, number>>;
  quality: Record<string, Quality>;
  precisions: string[];
}): SummaryRow[];
export function formatTable(
  rows: SummaryRow[],
  options: { rounds: number; past: number; threads: number },
): string;
