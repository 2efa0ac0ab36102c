import sharp from 'sharp';
import { errors } from '../../errors.js';
import type { GeneratedImage } from '../inference-engine.js';

/** An RGB image at the model's size: size² × 3 bytes, row-major, interleaved. */
export interface RgbImage {
  size: number;
  data: Uint8Array;
}

/** Largest input accepted before decoding (pixels), against decompression bombs. */
export const MAX_INPUT_PIXELS = 40_000_000;

/**
 * Reads any image sharp understands and brings it to size × size the way every input is treated:
 * resize so the short side fits, centre crop (the tokenizer's own eval preprocessing does the same).
 *
 * @throws BAD_USER_INPUT naming `field` when the bytes are not a readable image.
 */
export async function readImage(bytes: Uint8Array, size: number, field: string): Promise<RgbImage> {
  try {
    const data = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS })
      .rotate()
      .removeAlpha()
      .resize(size, size, { fit: 'cover', position: 'centre', kernel: 'lanczos3' })
      .toColourspace('srgb')
      .raw()
      .toBuffer();
    return { size, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (error) {
    throw errors.badInput(field, `not a readable image (${(error as Error).message})`);
  }
}

/**
 * Reads a mask (white = regenerate) with the same resize and crop as its image, so they align.
 * Returns size² bytes, 1 where the mask is at least half white.
 *
 * @throws BAD_USER_INPUT when the bytes are not an image, or the mask is empty.
 */
export async function readMask(
  bytes: Uint8Array,
  size: number,
  field: string,
): Promise<Uint8Array> {
  let grey: Buffer;
  try {
    grey = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS })
      .rotate()
      .flatten({ background: '#000000' })
      .resize(size, size, { fit: 'cover', position: 'centre', kernel: 'nearest' })
      .greyscale()
      .raw()
      .toBuffer();
  } catch (error) {
    throw errors.badInput(field, `not a readable mask image (${(error as Error).message})`);
  }
  const mask = new Uint8Array(size * size);
  let marked = 0;
  for (let i = 0; i < mask.length; i++) {
    mask[i] = grey[i]! >= 128 ? 1 : 0;
    marked += mask[i]!;
  }
  if (marked === 0)
    throw errors.badInput(field, 'the mask marks nothing to regenerate (white = regenerate)');
  return mask;
}

/** Native size of an encoded image, without decoding its pixels. */
export async function imageSize(
  bytes: Uint8Array,
  field: string,
): Promise<{ width: number; height: number }> {
  try {
    const { width, height } = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
    if (!width || !height) throw new Error('no dimensions');
    return { width, height };
  } catch (error) {
    throw errors.badInput(field, `not a readable image (${(error as Error).message})`);
  }
}

/** RGB bytes → the graphs' NCHW float layout in [-1, 1] (SPEC §1.2), written at `offset` images in. */
export function toModelInput(image: RgbImage, out: Float32Array, offset = 0): void {
  const plane = image.size * image.size;
  const base = offset * 3 * plane;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[base + c * plane + i] = image.data[i * 3 + c]! / 127.5 - 1;
  }
}

/** The decoder's NCHW float image `index` → RGB bytes with floor(clamp(127.5·x + 128, 0, 255)). */
export function fromModelOutput(pixels: Float32Array, size: number, index = 0): RgbImage {
  const plane = size * size;
  const base = index * 3 * plane;
  const data = new Uint8Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const value = 127.5 * pixels[base + c * plane + i]! + 128;
      data[i * 3 + c] = Math.floor(Math.min(255, Math.max(0, value)));
    }
  }
  return { size, data };
}

/** Keeps `original` where the mask is 0 and `generated` where it is 1. */
export function composite(original: RgbImage, generated: RgbImage, mask: Uint8Array): RgbImage {
  const data = new Uint8Array(generated.data);
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) data.set(original.data.subarray(i * 3, i * 3 + 3), i * 3);
  }
  return { size: generated.size, data };
}

/** Lossless PNG; sharp reads 8-bit raw input here (a Float32Array would be read as 16-bit). */
export function encodePng(image: RgbImage): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.size, height: image.size, channels: 3 } })
    .png({ adaptiveFiltering: true, compressionLevel: 9 })
    .toBuffer();
}

/** A small WebP preview of an encoded image, at most `maxSide` pixels a side (never upscaled). */
export function webpThumbnail(png: Buffer, maxSide = 256): Promise<Buffer> {
  return sharp(png)
    .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 85 })
    .toBuffer();
}

/**
 * A live preview of raw RGB pixels: at most `maxSide` a side (never enlarged), lossy WebP at a
 * quality that keeps 64 px under a few KB.
 */
export function webpPreview(image: RgbImage, maxSide: number): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.size, height: image.size, channels: 3 } })
    .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 70 })
    .toBuffer();
}

/** A final image as the engine returns it: its PNG and the tokens it was decoded from. */
export async function generatedImage(
  seed: number,
  holisticIds: number[],
  patchIds: number[],
  rgb: RgbImage,
): Promise<GeneratedImage> {
  return {
    seed,
    png: await encodePng(rgb),
    width: rgb.size,
    height: rgb.size,
    holisticIds,
    patchIds,
  };
}
