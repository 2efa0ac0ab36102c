import { freePort } from './free-port.js';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/swift-s3.sh', import.meta.url));
const SWIFT_PROXY = '/usr/bin/swift-proxy-server';
/** Swift starts in 5–30 s here depending on load; past this something is wrong. */
const START_TIMEOUT_S = 90;

/** A running S3-compatible server and the credentials `scripts/swift-s3.sh` configures. */
export interface S3Server {
  /** `http://127.0.0.1:<port>` */
  endPoint: string;
  accessKey: string;
  secretKey: string;
  /** Stops the server and removes its data; idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts Swift with s3api (scripts/swift-s3.sh) on free ports in a temp dir.
 * @returns null when Swift is not installed (`apt-get install swift swift-proxy ...`)
 * @throws Error with the script's output when Swift is installed but does not come up
 */
export async function startS3Server(): Promise<S3Server | null> {
  if (!existsSync(SWIFT_PROXY)) return null;
  const dir = await mkdtemp(path.join(tmpdir(), 'hita-swift-'));
  const [proxy, object, container, account] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const env = {
    ...process.env,
    SWIFT_OBJECT_PORT: String(object),
    SWIFT_CONTAINER_PORT: String(container),
    SWIFT_ACCOUNT_PORT: String(account),
    SWIFT_START_TIMEOUT_S: String(START_TIMEOUT_S),
  };
  let isStopped = false;
  const stop = async (): Promise<void> => {
    if (isStopped) return;
    isStopped = true;
    await run(SCRIPT, ['stop', dir], { env }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await run(SCRIPT, ['start', dir, String(proxy)], {
      env,
      timeout: (START_TIMEOUT_S + 30) * 1000,
    });
  } catch (err) {
    await stop();
    const { stderr, message } = err as { stderr?: string; message: string };
    throw new Error(`scripts/swift-s3.sh failed: ${stderr?.trim() || message}`, { cause: err });
  }
  return {
    endPoint: `http://127.0.0.1:${proxy}`,
    accessKey: 'test:tester',
    secretKey: 'testing',
    stop,
  };
}
