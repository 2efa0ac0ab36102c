/**
 * Choosing where ONNX Runtime runs (HITA_EP) and opening sessions there with an explicit
 * fallback. onnxruntime-node does not fall back by itself: `['cuda', 'cpu']` throws "Failed to
 * load shared library" when the CUDA provider is missing, so providers are tried one at a time and
 * each failure is translated into an actionable AppError.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';

// ORT prints its own coloured copy of every provider-load failure to stderr before throwing; the
// failures are translated and thrown below with the fix, so its copy is only noise. Taking effect
// when ORT's environment starts (the first session), this must run before any session is made.
ort.env.logLevel = 'fatal';
import { errors, type AppError } from '../../errors.js';

/** An execution provider hita-serve knows how to use. */
export type ExecutionProvider = 'cuda' | 'webgpu' | 'cpu';

const PROVIDERS: readonly ExecutionProvider[] = ['cuda', 'webgpu', 'cpu'];

/**
 * The command that fetches the CUDA 12 provider libraries (script/install of onnxruntime-node;
 * its postinstall is skipped in package.json). The environment variable, not the
 * `--onnxruntime-node-install=cuda12` flag, because the variable wins over the flag.
 */
export const CUDA_INSTALL_COMMAND =
  'ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install';

/** The part of a pino logger used here. */
export interface SessionLogger {
  warn(obj: object, msg: string): void;
}

/**
 * Parses HITA_EP: a comma-separated list of providers in order of preference.
 * @returns the providers without duplicates; `['cpu']` when unset or blank.
 * @throws AppError BAD_USER_INPUT (field HITA_EP) naming an unknown provider.
 */
export function parseExecutionProviders(value: string | undefined): ExecutionProvider[] {
  if (value === undefined || value.trim() === '') return ['cpu'];
  const names = value.split(',').map((name) => name.trim().toLowerCase());
  const unknown = names.filter((name) => !PROVIDERS.includes(name as ExecutionProvider));
  if (unknown.length) {
    throw errors.badInput(
      'HITA_EP',
      `unknown execution provider ${unknown.map((n) => JSON.stringify(n)).join(', ')} in ${JSON.stringify(value)}; expected a comma-separated list of ${PROVIDERS.join(', ')}`,
      { received: value },
    );
  }
  return [...new Set(names as ExecutionProvider[])];
}

/** Options of {@link createSession}. */
export interface CreateSessionOptions {
  /** Providers to try, in order; the first that opens the graph wins. */
  providers: readonly ExecutionProvider[];
  /** CUDA device ordinal. @default 0 */
  deviceId?: number;
  /** Receives one warning per fallback to the next provider. @default undefined (silent) */
  logger?: SessionLogger;
  /** Threads for one operator. @default undefined (ONNX Runtime decides: one per physical core) */
  intraOpNumThreads?: number;
  /**
   * Further ONNX Runtime session options; `graphOptimizationLevel` defaults to 'all' and may be
   * overridden here, `executionProviders` is always set by this function.
   */
  sessionOptions?: ort.InferenceSession.SessionOptions;
}

/**
 * Opens an ONNX Runtime session on the first provider of `providers` that works.
 * @throws AppError EXECUTION_PROVIDER_UNAVAILABLE when every provider failed: the first
 *   provider's error (for CUDA it names the missing library and how to install it).
 * @throws AppError MODEL_UNAVAILABLE when the CPU provider is first and cannot open the graph.
 */
export async function createSession(
  path: string,
  options: CreateSessionOptions,
): Promise<{ session: ort.InferenceSession; provider: ExecutionProvider }> {
  const { providers, deviceId = 0, logger, intraOpNumThreads, sessionOptions = {} } = options;
  if (providers.length === 0) throw errors.badInput('HITA_EP', 'no execution provider given');
  let firstError: AppError | undefined;
  for (const [i, provider] of providers.entries()) {
    try {
      const session = await ort.InferenceSession.create(path, {
        graphOptimizationLevel: 'all',
        ...sessionOptions,
        ...(intraOpNumThreads === undefined ? {} : { intraOpNumThreads }),
        executionProviders: [provider === 'cuda' ? { name: 'cuda', deviceId } : provider],
      });
      return { session, provider };
    } catch (cause) {
      const error = translateFailure(provider, path, cause);
      firstError ??= error;
      const next = providers[i + 1];
      if (next !== undefined) {
        logger?.warn(
          { provider, next, err: error },
          `${provider} unavailable, falling back to ${next}`,
        );
      }
    }
  }
  throw firstError;
}

/** One ORT failure as an AppError that says what is missing and how to fix it. */
function translateFailure(provider: ExecutionProvider, path: string, cause: unknown): AppError {
  const message = cause instanceof Error ? cause.message : String(cause);
  if (provider === 'cpu') {
    return errors.modelUnavailable(path, `ONNX Runtime cannot open the graph: ${message}`, cause);
  }
  if (provider === 'webgpu') {
    const reason = /adapter/i.test(message)
      ? 'no WebGPU adapter is available on this host (no GPU, or no Vulkan/Metal/D3D12 driver)'
      : `ONNX Runtime failed to start it: ${message.trim()}`;
    return errors.providerUnavailable(
      'webgpu',
      `WebGPU execution provider unavailable: ${reason}`,
      cause,
    );
  }
  if (/Failed to load shared library/i.test(message)) {
    const { library, fix } = diagnoseCudaLoadFailure();
    return errors.providerUnavailable(
      'cuda',
      `CUDA execution provider unavailable: cannot load ${library}. ${fix}`,
      cause,
    );
  }
  return errors.providerUnavailable(
    'cuda',
    `CUDA execution provider failed to start: ${message.trim()} (it needs an NVIDIA GPU and driver, CUDA 12 and cuDNN 9)`,
    cause,
  );
}

/** Where onnxruntime-node keeps its native libraries, and fetches the CUDA provider into. */
function ortBinDir(): string {
  const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
  return join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

/**
 * Finds which library made ORT's "Failed to load shared library": ORT's exception does not say,
 * it only prints the name to stderr. First the provider libraries the install script fetches,
 * then the loader's own answer for the CUDA provider's dependencies (libcudart.so.12,
 * libcublas.so.12, libcudnn.so.9, …), obtained by asking the dynamic loader to open it.
 * @param binDir onnxruntime-node's native library directory. @default the installed package's
 * @returns the library's file name and the fix to print.
 */
export function diagnoseCudaLoadFailure(binDir: string = ortBinDir()): {
  library: string;
  fix: string;
} {
  const install = `Fetch the CUDA 12 provider with \`${CUDA_INSTALL_COMMAND}\` (needs internet; repeat after every npm ci; the host needs CUDA 12 and cuDNN 9)`;
  for (const library of [
    'libonnxruntime_providers_shared.so',
    'libonnxruntime_providers_cuda.so',
  ]) {
    if (!existsSync(join(binDir, library))) {
      return { library: `${library} (not in ${binDir})`, fix: install };
    }
  }
  try {
    // Node's dlopen reports dlerror() verbatim; a library that does load is closed again at once
    // ("did not self-register"), so this leaves nothing behind.
    process.dlopen({ exports: {} }, join(binDir, 'libonnxruntime_providers_cuda.so'));
  } catch (error) {
    const missing = /([\w.+-]+\.so[\w.]*): cannot open shared object file/.exec(String(error));
    if (missing?.[1]) {
      return {
        library: missing[1],
        fix: `Install CUDA 12 and cuDNN 9 and add their library directories to LD_LIBRARY_PATH (provider libraries from \`${CUDA_INSTALL_COMMAND}\`)`,
      };
    }
  }
  return {
    library: 'libonnxruntime_providers_cuda.so or one of its CUDA libraries',
    fix: `${install}; ONNX Runtime's log on stderr names the library`,
  };
}
