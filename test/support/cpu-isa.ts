/**
 * The x86 instruction set onnxruntime's MLAS kernels pick for integer MatMulNBits here. Its int8
 * (accuracy level 4) kernels differ by ISA in the last bits of a sum, so a quantized graph's
 * exact bytes are pinned per ISA (golden-precision-outputs.json); fp32 ones are the same on all.
 */
import { readFileSync } from 'node:fs';

export type CpuIsa = 'avx512vnni' | 'avxvnni' | 'avx512' | 'avx2' | 'other';

/** The best of the kernel families MLAS dispatches on, from /proc/cpuinfo's flags. */
export function cpuIsa(cpuinfo = readCpuinfo()): CpuIsa {
  const flags = new Set(/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1]?.trim().split(/\s+/) ?? []);
  if (flags.has('avx512_vnni')) return 'avx512vnni';
  if (flags.has('avx_vnni')) return 'avxvnni';
  if (flags.has('avx512f') && flags.has('avx512bw')) return 'avx512';
  if (flags.has('avx2')) return 'avx2';
  return 'other';
}

function readCpuinfo(): string {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}
