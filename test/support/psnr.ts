/** PSNR (dB) of 8-bit images, for preview quality checks and the preview bench. */

/** PSNR of `a` against `b` (same length, 8-bit samples); Infinity when they are equal. */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return 10 * Math.log10((255 * 255) / (sum / a.length));
}

/** PSNR against `rgb` (interleaved RGB) of a flat image of its own mean colour. */
export function meanColourPsnr(rgb: Uint8Array): number {
  const mean = [0, 0, 0];
  for (let i = 0; i < rgb.length; i++) mean[i % 3]! += rgb[i]!;
  const flat = Array.from(rgb, (_, i) => Math.round(mean[i % 3]! / (rgb.length / 3)));
  return psnr(flat, rgb);
}
