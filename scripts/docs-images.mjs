// Makes the README's and docs/' example images with the shipped ONNX graphs through the
// TypeScript engine (the built `hita` CLI), never with PyTorch:
//   node scripts/docs-images.mjs [MODEL_ID]      (after npm run build)
// Inputs are emoji from the npm image packages (Noto: Apache-2.0, Twemoji: CC-BY-4.0).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';

const model = process.argv[2] ?? 'hita-tiny-emoji';
const out = 'docs/examples';
const work = mkdtempSync(join(tmpdir(), 'hita-docs-'));
mkdirSync(out, { recursive: true });
const hita = (...args) =>
  execFileSync(process.execPath, ['dist/cli.js', ...args, '--model', model], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
const emoji = (set, file) => `node_modules/emoji-datasource-${set}/img/${set}/64/${file}`;
const SCALE = 4;

/** Images in a row, each upscaled with nearest neighbour so the pixels stay visible. */
async function strip(files, target) {
  const size = 32 * SCALE;
  const tiles = await Promise.all(
    files.map((f) =>
      sharp(f)
        .flatten({ background: '#ffffff' })
        .resize(size, size, { kernel: 'nearest' })
        .png()
        .toBuffer(),
    ),
  );
  await sharp({
    create: {
      width: size * tiles.length + 4 * (tiles.length - 1),
      height: size,
      channels: 3,
      background: '#ffffff',
    },
  })
    .composite(tiles.map((input, i) => ({ input, left: i * (size + 4), top: 0 })))
    .png()
    .toFile(target);
}

// One row of samples per class.
const manifest = JSON.parse(readFileSync(`models/${model}/model.json`, 'utf8'));
const rows = [];
for (const { id, name } of manifest.classes) {
  const dir = join(work, `class-${id}`);
  hita('generate', '--class', String(id), '--count', '8', '--seed', '100', '--out', dir);
  const row = join(work, `row-${id}.png`);
  await strip(
    Array.from({ length: 8 }, (_, i) => join(dir, `${100 + i}.png`)),
    row,
  );
  rows.push({ row, name });
}
const rowImages = await Promise.all(
  rows.map(({ row }) => sharp(row).toBuffer({ resolveWithObject: true })),
);
const width = rowImages[0].info.width;
const height = rowImages.reduce((h, r) => h + r.info.height + 4, -4);
await sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
  .composite(rowImages.map((r, i) => ({ input: r.data, left: 0, top: i * (r.info.height + 4) })))
  .png()
  .toFile(join(out, 'samples.png'));

// In-painting: the lower half of an emoji regenerated, class-guided.
const original = join(work, 'original.png');
await sharp(emoji('google', '1f436.png')).flatten({ background: '#ffffff' }).png().toFile(original);
const mask = join(work, 'mask.png');
await sharp({ create: { width: 64, height: 64, channels: 3, background: '#000000' } })
  .composite([
    {
      input: { create: { width: 64, height: 32, channels: 3, background: '#ffffff' } },
      left: 0,
      top: 32,
    },
  ])
  .png()
  .toFile(mask);
const dogClass = String(manifest.classes.find((c) => c.name === 'Animals & Nature')?.id ?? 0);
hita(
  'inpaint',
  '--image',
  original,
  '--mask',
  mask,
  '--class',
  dogClass,
  '--count',
  '3',
  '--seed',
  '7',
  '--out',
  join(work, 'inpaint'),
);
await strip(
  [original, mask, ...[7, 8, 9].map((s) => join(work, 'inpaint', `${s}.png`))],
  join(out, 'inpaint.png'),
);

// Style transfer: Noto content, Twemoji style.
const content = join(work, 'content.png');
const style = join(work, 'style.png');
await sharp(emoji('google', '1f600.png')).flatten({ background: '#ffffff' }).png().toFile(content);
await sharp(emoji('twitter', '1f355.png')).flatten({ background: '#ffffff' }).png().toFile(style);
const transfer = (out, ...options) =>
  hita('style', '--content', content, '--style', style, ...options, '--out', join(work, out));
transfer('swap.png', '--mode', 'swap');
transfer('regen.png', '--mode', 'regenerate', '--strength', '0.5', '--seed', '3');
await strip(
  [content, style, join(work, 'swap.png'), join(work, 'regen.png')],
  join(out, 'style.png'),
);
writeFileSync(
  join(out, 'README.md'),
  `Made by \`node scripts/docs-images.mjs ${model}\` with the ONNX graphs through the TypeScript engine.\n`,
);
console.log(`wrote ${out}/samples.png, inpaint.png and style.png with ${model}`);
