import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { requireService } from '../support/require-service.js';

/**
 * The demo app (web/, built into web/dist by `npm run build`) in Debian's chromium, against a real
 * `hita serve` with the shipped emoji model (the screenshots in docs/ come from here).
 */
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = requireService(
  'chromium (browser tests)',
  existsSync(CHROMIUM),
  `${CHROMIUM} is not installed (apt-get install chromium)`,
);
const hasBuild = existsSync(resolve('web/dist/index.html'));

if (hasChromium && !hasBuild) {
  throw new Error('web/dist/index.html is missing: run `npm run build` (or `npm run build:web`)');
}

/** Chromium on a fresh profile (playwright passes it to chromium as --user-data-dir). */
async function launchChromium(): Promise<{ profile: string; browser: BrowserContext; page: Page }> {
  const profile = await mkdtemp(join(tmpdir(), 'hita-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  return { profile, browser, page };
}

describe.runIf(hasChromium)('demo web app', () => {
  let api: ApiHarness;
  let browser: BrowserContext;
  let page: Page;
  let profile: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // Two batch rows: one CFG image at a time, so a 16-image job is still running when cancelled.
    api = await startApi({ HITA_MAX_BATCH_ROWS: '2', HITA_MODEL: 'hita-tiny-emoji' });
    ({ profile, browser, page } = await launchChromium());
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(api.url + '/');
    await page.locator('body[data-ready="true"]').waitFor({ timeout: 15_000 });
  });

  afterAll(async () => {
    await browser?.close();
    await api?.stop();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  /** Drags the mouse across the mask canvas between two points given as fractions of its box. */
  async function paintMask(from: [number, number], to: [number, number]): Promise<void> {
    const mask = page.locator('#mask');
    await mask.waitFor();
    const box = (await mask.boundingBox())!;
    await page.mouse.move(box.x + box.width * from[0], box.y + box.height * from[1]);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * to[0], box.y + box.height * to[1], { steps: 8 });
    await page.mouse.up();
  }

  it('generates two images, follows the job live and shows them in the gallery', async () => {
    const modelOptions = await page.locator('#model option').allTextContents();
    expect(modelOptions).toEqual(expect.arrayContaining(['hita-tiny-emoji', 'hita-tiny-random']));
    expect(await page.locator('#model').inputValue()).toBe('hita-tiny-emoji');
    const className = 'Smileys & Emotion';
    await page.selectOption('#class', { label: className });
    await page.fill('#count', '2');
    await page.fill('#seed', '7');
    // Every label the job list shows while the job runs, as the subscription feeds it.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { labels: string[] }).labels = seen;
      new MutationObserver(() => {
        for (const label of document.querySelectorAll('#jobs .label')) {
          const text = label.textContent ?? '';
          if (seen.at(-1) !== text) seen.push(text);
        }
      }).observe(document.querySelector('#jobs')!, { childList: true, subtree: true });
    });
    await page.click('#submit');

    const job = page.locator('li.job').first();
    await job.waitFor();
    // The bar ends full and green, the job SUCCEEDED, and its two outputs fill the gallery.
    await page
      .locator('li.job[data-status="SUCCEEDED"] .progress.done')
      .waitFor({ timeout: 45_000 });
    await expect.poll(() => page.locator('#gallery figure.image').count()).toBe(2);
    await expect
      .poll(() =>
        page
          .locator('#gallery img')
          .evaluateAll((images) =>
            images.every((image) => (image as HTMLImageElement).naturalWidth > 0),
          ),
      )
      .toBe(true);
    expect(await job.locator('.label').textContent()).toBe('done');
    // The card showed the images forming: one live preview per image, the last one the final.
    const previews = job.locator('.previews img.preview');
    await expect.poll(() => previews.count()).toBe(2);
    const shown = await previews.evaluateAll((images) =>
      images.map((image) => ({
        src: (image as HTMLImageElement).src.slice(0, 23),
        width: (image as HTMLImageElement).naturalWidth,
      })),
    );
    expect(shown).toEqual([
      { src: 'data:image/webp;base64,', width: 32 },
      { src: 'data:image/webp;base64,', width: 32 },
    ]);
    const labels = await page.evaluate(() => (window as unknown as { labels: string[] }).labels);
    expect(labels.some((label) => /^holistic tokens \d+\/\d+$/.test(label))).toBe(true);
    expect(labels.some((label) => /^patch tokens \d+\/\d+$/.test(label))).toBe(true);
    expect(labels.at(-1)).toBe('done');
    // The header's queue line: the worker's first job of a model ran cold (model opening,
    // warm-up), so it measured no throughput yet; the edits below show one.
    await expect
      .poll(() => page.locator('#queue-status').textContent(), { timeout: 10_000 })
      .toBe('0 queued · 0 running · 1 worker · throughput not measured yet');
    const captions = await page.locator('#gallery figcaption').allTextContents();
    expect(captions.join(' ')).toContain(className);
    expect(captions.join(' ')).toContain('seed 7');
    expect(captions.join(' ')).toContain('seed 8');
    const pixelated = await page
      .locator('#gallery img')
      .first()
      .evaluate((image) => getComputedStyle(image).imageRendering);
    expect(pixelated).toBe('pixelated');
    const fullSize = await page.locator('#gallery a.thumb').first().getAttribute('href');
    expect((await fetch(fullSize!)).headers.get('content-type')).toContain('image/png');

    await mkdir(resolve('docs/screenshots'), { recursive: true });
    await page.screenshot({ path: resolve('docs/screenshots/generate.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it("shows the API's error for an out-of-range CFG next to the form", async () => {
    const jobsBefore = await page.locator('li.job').count();
    await page.fill('#cfg', '0.5');
    await page.click('#submit');
    const error = page.locator('#form-error');
    await error.waitFor({ state: 'visible' });
    const text = (await error.textContent()) ?? '';
    expect(text).toMatch(/^cfgScale: .*0\.5/);
    expect(await page.locator('#cfg.invalid').count()).toBe(1);
    expect(await page.locator('li.job').count()).toBe(jobsBefore);
    // A valid value clears it again.
    await page.fill('#cfg', '2');
    await page.fill('#count', '1');
    await page.click('#submit');
    await error.waitFor({ state: 'hidden' });
    await expect.poll(() => page.locator('li.job').count()).toBe(jobsBefore + 1);
  });

  it('in-paints a masked gallery image and transfers a style between two', async () => {
    const figures = page.locator('#gallery figure.image');
    const before = await figures.count();
    const jobsBefore = await page.locator('li.job').count();

    await figures.nth(0).getByRole('button', { name: 'in-paint' }).click();
    await paintMask([0.3, 0.3], [0.7, 0.7]);
    await page.click('#inpaint-submit');
    await expect.poll(() => page.locator('li.job').count()).toBe(jobsBefore + 1);
    expect(await page.locator('#edit-error').isHidden()).toBe(true);

    await figures.nth(0).getByRole('button', { name: 'content' }).click();
    await figures.nth(1).getByRole('button', { name: 'style' }).click();
    await page.selectOption('#style-mode', 'REGENERATE');
    await page.click('#style-submit');
    await expect.poll(() => page.locator('li.job').count()).toBe(jobsBefore + 2);
    expect(await page.locator('#edit-error').isHidden()).toBe(true);

    // Both finish and add one image each (the earlier one-image job adds one too, maybe already).
    await expect
      .poll(() => page.locator('li.job[data-status="SUCCEEDED"]').count(), { timeout: 45_000 })
      .toBe(jobsBefore + 2);
    expect(await figures.count()).toBeGreaterThanOrEqual(before + 2);
    const kinds = await page.locator('li.job .title').allTextContents();
    expect(kinds.some((title) => title.startsWith('in-paint'))).toBe(true);
    expect(kinds.some((title) => title.startsWith('style'))).toBe(true);
    // Each edit shows what it started from (Job.inputs): in-paint its image, style both.
    const roles = (kind: string) =>
      page
        .locator(`#gallery figure[data-kind="${kind}"]`)
        .first()
        .locator('.source')
        .allTextContents();
    await expect.poll(() => roles('INPAINT')).toEqual(['image']);
    await expect.poll(() => roles('STYLE_TRANSFER')).toEqual(['content', 'style']);
    // Jobs that started after the first completion count: the header shows their images/s.
    await expect
      .poll(() => page.locator('#queue-status').textContent(), { timeout: 10_000 })
      .toMatch(/ · 1 worker · \d+\.\d\d images\/s$/);
    await page.screenshot({ path: resolve('docs/screenshots/edit.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it('uploads an image, in-paints it and shows it as the before', async () => {
    const jobsBefore = await page.locator('li.job').count();
    // A 64×64 emoji from the npm packages the model was trained on (Noto: Apache-2.0).
    const file = resolve('node_modules/emoji-datasource-google/img/google/64/1f600.png');
    await page.setInputFiles('#upload', file);
    const uploaded = page.locator('#gallery figure.uploaded').first();
    await uploaded.waitFor();
    expect(await uploaded.locator('.meta').textContent()).toBe('64×64');
    await uploaded.getByRole('button', { name: 'in-paint' }).click();
    expect(await page.locator('#mask').evaluate((c) => (c as HTMLCanvasElement).width)).toBe(64);
    await paintMask([0.2, 0.6], [0.8, 0.9]);
    await page.click('#inpaint-submit');
    await expect.poll(() => page.locator('li.job').count()).toBe(jobsBefore + 1);
    await expect
      .poll(() => page.locator('li.job[data-status="SUCCEEDED"]').count(), { timeout: 45_000 })
      .toBe(jobsBefore + 1);
    const key = await uploaded.getAttribute('data-key');
    const sourceKeys = await page.evaluate(
      async (id) => {
        const response = await fetch('/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: `{ job(id: "${id}") { inputs { role key } } }` }),
        });
        return ((await response.json()) as { data: { job: { inputs: { key: string }[] } } }).data
          .job.inputs;
      },
      await page.locator('li.job').first().getAttribute('data-job-id'),
    );
    expect(sourceKeys[0]).toMatchObject({ role: 'image', key });
    expect(pageErrors).toEqual([]);
  });

  it('cancels a job and retries it', async () => {
    await page.fill('#count', '16');
    await page.click('#submit');
    const job = page.locator('li.job').first();
    await job.locator('button.cancelJob').click();
    await page.locator('li.job[data-status="CANCELLED"]').first().waitFor();
    const id = await page
      .locator('li.job[data-status="CANCELLED"]')
      .first()
      .getAttribute('data-job-id');
    await page.locator(`li.job[data-job-id="${id}"] button.retryJob`).click();
    await page
      .locator(`li.job[data-job-id="${id}"][data-status="SUCCEEDED"] .progress.done`)
      .waitFor({ timeout: 60_000 });
    expect(pageErrors).toEqual([]);
  });

  it('resubscribes with the last sequence seen after the connection drops', async () => {
    const subscriptions: { id: string; after: number }[] = [];
    let dropped = false;
    let lastDelivered = 0;
    // A page of its own, so that its first WebSocket is the routed one.
    const page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.routeWebSocket(/\/graphql$/, (socket) => {
      const server = socket.connectToServer();
      socket.onMessage((message) => {
        const parsed = JSON.parse(String(message)) as {
          type: string;
          payload?: { variables?: { id: string; after: number } };
        };
        if (parsed.type === 'subscribe' && parsed.payload?.variables) {
          subscriptions.push(parsed.payload.variables);
        }
        server.send(message);
      });
      server.onMessage((message) => {
        socket.send(message);
        const parsed = JSON.parse(String(message)) as {
          type: string;
          payload?: { data?: { jobUpdated?: { sequence: number } } };
        };
        const sequence = parsed.payload?.data?.jobUpdated?.sequence;
        if (parsed.type === 'next' && sequence !== undefined && !dropped) {
          dropped = true;
          lastDelivered = sequence;
          void socket.close({ code: 1012, reason: 'test: connection dropped' });
          void server.close();
        }
      });
    });
    await page.goto(api.url + '/');
    await page.locator('body[data-ready="true"]').waitFor({ timeout: 15_000 });
    await page.fill('#count', '2');
    await page.click('#submit');
    await expect.poll(() => subscriptions.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    const [first, second] = subscriptions;
    expect(second!.id).toBe(first!.id);
    expect(lastDelivered).toBeGreaterThan(first!.after);
    expect(second!.after).toBe(lastDelivered);
    await page
      .locator(`li.job[data-job-id="${first!.id}"][data-status="SUCCEEDED"] .progress.done`)
      .waitFor({ timeout: 45_000 });
    expect(pageErrors).toEqual([]);
  });
});

describe.runIf(hasChromium)('demo web app with HITA_API_KEYS', () => {
  const KEY = 'demo-key-0123456789';
  let api: ApiHarness;
  let browser: BrowserContext;
  let page: Page;
  let profile: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    api = await startApi({ HITA_API_KEYS: `${KEY}:demo`, HITA_MODEL: 'hita-tiny-emoji' });
    ({ profile, browser, page } = await launchChromium());
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });

  afterAll(async () => {
    await browser?.close();
    await api?.stop();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('shows UNAUTHENTICATED without a key; with one entered it generates, and keeps the key', async () => {
    await page.goto(api.url + '/');
    const error = page.locator('#form-error');
    await error.waitFor({ state: 'visible', timeout: 15_000 });
    expect(await error.textContent()).toContain('UNAUTHENTICATED');

    await page.fill('#api-key-input', KEY);
    await page.click('#api-key-save');
    await page.locator('body[data-ready="true"]').waitFor({ timeout: 15_000 });
    await error.waitFor({ state: 'hidden' });
    await page.selectOption('#class', { index: 1 });
    await page.fill('#count', '1');
    await page.fill('#seed', '3');
    await page.click('#submit');
    // The subscription (graphql-ws, key in connection_init) follows it to the end.
    await page
      .locator('li.job[data-status="SUCCEEDED"] .progress.done')
      .waitFor({ timeout: 45_000 });
    await expect.poll(() => page.locator('#gallery figure.image').count()).toBe(1);

    // Kept in localStorage: a reload needs no typing, and lists the job again.
    await page.reload();
    await page.locator('body[data-ready="true"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('#api-key-input').inputValue()).toBe(KEY);
    await expect.poll(() => page.locator('li.job').count()).toBe(1);
    expect(pageErrors).toEqual([]);
  });
});
