/**
 * The one gate for suites that need an outside service (redis-server, the Swift S3 server,
 * Chromium): locally a missing service skips the cases that need it with a printed
 * `SKIP <name>: <reason>` line; under `CI=true` it is a failing test instead, so a CI run can
 * never go green with nothing tested.
 */
import { it } from 'vitest';

/** Whether this run is CI (`CI=true`), where every service must be there. */
export function isCi(): boolean {
  return process.env.CI === 'true';
}

/**
 * Decides whether the cases needing `name` are registered. Call it where those cases would be
 * registered (module scope or inside a `describe`), never inside a test or hook.
 * @param name what is needed, as the SKIP line and the failing test name it ("redis-server")
 * @param available whether it is there
 * @param reason why it is not (an install hint or the start error), printed or thrown
 * @returns true when available; false otherwise, after printing the SKIP line (locally) or
 *   registering a test that fails with `reason` (under CI=true)
 */
export function requireService(name: string, available: boolean, reason: string): boolean {
  if (available) return true;
  if (isCi()) {
    it(`needs ${name} (required when CI=true)`, () => {
      throw new Error(`${name} is required when CI=true: ${reason}`);
    });
  } else {
    console.log(`SKIP ${name}: ${reason}`);
  }
  return false;
}

/**
 * Starts a service, turning a rejection, or a `null` that means "not installed", into the Error
 * that `hasService` reports.
 * @param missing the reason given when `start` resolves to null (an install hint)
 */
export async function tryStart<T>(
  start: () => Promise<T | null>,
  missing = 'not installed',
): Promise<T | Error> {
  try {
    return (await start()) ?? new Error(missing);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** `requireService` over what `tryStart` returned, narrowing it to the started service. */
export function hasService<T>(name: string, started: T | Error): started is T {
  return requireService(
    name,
    !(started instanceof Error),
    started instanceof Error ? started.message : '',
  );
}

/** The install hint for Swift with s3api, the S3 server of the tests (scripts/swift-s3.sh). */
export const SWIFT_MISSING =
  'Swift is not installed (apt-get install -y --no-install-recommends swift swift-proxy swift-account swift-container swift-object)';
