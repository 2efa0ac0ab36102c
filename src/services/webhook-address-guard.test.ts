import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { isAppError } from '../errors.js';
import {
  checkWebhookUrl,
  guardedLookup,
  isRefusedAddress,
  RefusedAddressError,
} from './webhook-address-guard.js';

/** Runs the lookup hook the way net.connect does, with a stubbed resolver: no DNS, no socket. */
function lookupWith(addresses: LookupAddress[], allowPrivate = false, all = false) {
  const lookup = guardedLookup(allowPrivate, async () => addresses);
  return new Promise<{ error: Error | null; address: unknown }>((done) =>
    lookup('hooks.example', { all }, (error, address) => done({ error, address })),
  );
}

describe('checkWebhookUrl (enqueue: the URL alone, no DNS)', () => {
  it.each([
    ['ftp://hooks.example/x', /http\(s\) only/],
    ['https://user:pw@hooks.example/x', /no user or password/],
    ['http://127.0.0.1:8080/x', /not an IP address/],
    ['http://[::1]/x', /not an IP address/],
    ['http://10.1.2.3/x', /not an IP address/],
    ['http://localhost:3000/x', /not a local host name/],
    ['http://api.localhost/x', /not a local host name/],
    ['http://LOCALHOST./x', /not a local host name/],
    ['not a url', /absolute http\(s\) URL/],
    [`https://hooks.example/${'a'.repeat(2100)}`, /at most 2048/],
  ])('refuses %s', (url, why) => {
    try {
      checkWebhookUrl(url, false);
      expect.unreachable();
    } catch (error) {
      expect(isAppError(error) && error.code).toBe('BAD_USER_INPUT');
      expect((error as Error).message).toMatch(why);
      expect((error as { details?: { field?: string } }).details?.field).toBe('webhook.url');
    }
  });

  it('accepts a public name, and loopback only when private addresses are allowed', () => {
    expect(checkWebhookUrl('https://hooks.example/hita?x=1', false)).toBe(
      'https://hooks.example/hita?x=1',
    );
    expect(checkWebhookUrl('http://127.0.0.1:8080/x', true)).toBe('http://127.0.0.1:8080/x');
    expect(() => checkWebhookUrl('https://u@127.0.0.1/', true)).toThrow(/no user/);
  });
});

describe('isRefusedAddress (delivery)', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '10.0.0.1',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '100.64.0.1',
    '100.127.255.255',
    '169.254.169.254',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'febf::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::ffff:a9fe:a9fe',
    '::127.0.0.1',
    '64:ff9b::10.0.0.1',
    'not-an-ip',
  ])('refuses %s', (address) => expect(isRefusedAddress(address)).toBe(true));

  it.each([
    '93.184.216.34',
    '8.8.8.8',
    '172.32.0.1',
    '100.128.0.1',
    '192.169.0.1',
    '2606:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::8.8.8.8',
    'fec0::1',
  ])('allows %s', (address) => expect(isRefusedAddress(address)).toBe(false));
});

describe('guardedLookup (resolve once, connect to the checked address)', () => {
  it('hands the connection the address it checked', async () => {
    expect(await lookupWith([{ address: '93.184.216.34', family: 4 }])).toEqual({
      error: null,
      address: '93.184.216.34',
    });
    const all = await lookupWith([{ address: '2606:4700::1111', family: 6 }], false, true);
    expect(all.address).toEqual([{ address: '2606:4700::1111', family: 6 }]);
  });

  it('refuses a name with any private address among its answers', async () => {
    const { error } = await lookupWith([
      { address: '93.184.216.34', family: 4 },
      { address: '169.254.169.254', family: 4 },
    ]);
    expect(error).toBeInstanceOf(RefusedAddressError);
    expect(error?.message).toContain('169.254.169.254');
    const mapped = await lookupWith([{ address: '::ffff:192.168.0.7', family: 6 }]);
    expect(mapped.error).toBeInstanceOf(RefusedAddressError);
  });

  it('lets private addresses through with HITA_WEBHOOK_ALLOW_PRIVATE', async () => {
    expect(await lookupWith([{ address: '127.0.0.1', family: 4 }], true)).toEqual({
      error: null,
      address: '127.0.0.1',
    });
  });

  it('passes resolver failures on', async () => {
    const lookup = guardedLookup(false, async () => {
      throw Object.assign(new Error('nope'), { code: 'ENOTFOUND' });
    });
    const error = await new Promise<Error | null>((done) =>
      lookup('gone.example', {}, (e) => done(e)),
    );
    expect(error?.message).toBe('nope');
  });
});
