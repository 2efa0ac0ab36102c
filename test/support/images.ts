import sharp from 'sharp';

/** A smooth colour test picture, PNG-encoded, of any size (not square on purpose by default). */
export function gradientPng(width = 48, height = 40): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = Math.round((255 * x) / (width - 1));
      data[i + 1] = Math.round((255 * y) / (height - 1));
      data[i + 2] = (x * 7 + y * 13) % 256;
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

/** A mask PNG, white (regenerate) where `isMasked(x, y)`. */
export function maskPng(
  width: number,
  height: number,
  isMasked: (x: number, y: number) => boolean,
): Promise<Buffer> {
  const data = Buffer.alloc(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data[y * width + x] = isMasked(x, y) ? 255 : 0;
  return sharp(data, { raw: { width, height, channels: 1 } })
    .png()
    .toBuffer();
}

export async function rawRgb(png: Buffer): Promise<Buffer> {
  return sharp(png).removeAlpha().raw().toBuffer();
}
