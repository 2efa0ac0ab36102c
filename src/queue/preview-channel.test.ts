import { describe, expect, it } from 'vitest';
import {
  LocalPreviewChannel,
  MAX_PREVIEW_DATA_URL_CHARS,
  MAX_PREVIEWS_PER_MESSAGE,
  parsePreviewMessage,
  type JobPreview,
} from './preview-channel.js';

const preview = (index: number, over: Partial<JobPreview> = {}): JobPreview => ({
  index,
  step: 16,
  width: 32,
  height: 32,
  dataUrl: 'data:image/webp;base64,UklGRg==',
  ...over,
});
const message = (previews: JobPreview[]) => ({
  jobId: 'j1',
  at: '2026-01-01T00:00:00.000Z',
  previews,
});

describe('parsePreviewMessage', () => {
  it('keeps a well-formed message, field for field', () => {
    const ok = message([preview(0), preview(1)]);
    expect(parsePreviewMessage(JSON.parse(JSON.stringify(ok)))).toEqual(ok);
  });

  it.each([
    [
      'too many previews',
      message(Array.from({ length: MAX_PREVIEWS_PER_MESSAGE + 1 }, (_, i) => preview(i))),
    ],
    ['an index out of order', message([preview(1)])],
    ['a side over 64 px', message([preview(0, { width: 65 })])],
    ['another image type', message([preview(0, { dataUrl: 'data:image/png;base64,AAAA' })])],
    ['not base64', message([preview(0, { dataUrl: 'data:image/webp;base64,<script>' })])],
    [
      'a data URL over the bound',
      message([
        preview(0, {
          dataUrl: `data:image/webp;base64,${'A'.repeat(MAX_PREVIEW_DATA_URL_CHARS)}`,
        }),
      ]),
    ],
    ['no job id', { at: 'x', previews: [] }],
    ['not an object', 'hello'],
  ])('refuses %s with BAD_USER_INPUT', (_name, raw) => {
    expect(() => parsePreviewMessage(raw)).toThrow(
      expect.objectContaining({ code: 'BAD_USER_INPUT' }),
    );
  });
});

describe('LocalPreviewChannel', () => {
  it('hands each message to every listener until it unsubscribes; a throwing one stops no other', async () => {
    const channel = new LocalPreviewChannel();
    const seen: string[] = [];
    channel.onPreview(() => {
      throw new Error('a buggy listener');
    });
    const off = channel.onPreview((m) => seen.push(m.jobId));
    await channel.publish(message([preview(0)]));
    off();
    await channel.publish(message([preview(0)]));
    expect(seen).toEqual(['j1']);
  });
});
