import { writeFile } from 'node:fs/promises';
import { printSchema } from 'graphql';
import { Command } from 'commander';
import { readServerConfig, type ServerConfig } from '../config.js';
import type { GptPrecision } from '../jobs/gpt-precision.js';
import { chosenPrecision, precisionOption } from './arguments.js';
import { createLogger, serve, work } from '../main.js';
import { buildHitaSchema } from '../resolvers/build-schema.js';
import { runUntilSignal } from './shutdown-signals.js';

interface PrecisionOptions {
  precision?: GptPrecision;
}

/** The configuration with `--precision` in place of HITA_PRECISION, when given. */
function withPrecision(
  config: Readonly<ServerConfig>,
  flag: GptPrecision | undefined,
): Readonly<ServerConfig> {
  const precision = chosenPrecision(flag, config.inference.precision);
  if (precision === config.inference.precision) return config;
  return Object.freeze({ ...config, inference: Object.freeze({ ...config.inference, precision }) });
}

export function serverCommands(): Command[] {
  const serveCommand = new Command('serve')
    .description(
      'the GraphQL API, the demo page and workers on this machine (embedded queue and storage unless REDIS_URL / S3_ENDPOINT)',
    )
    .addOption(precisionOption())
    .action(async (options: PrecisionOptions) => {
      const config = withPrecision(readServerConfig(), options.precision);
      const logger = createLogger(config.logLevel);
      await runUntilSignal(() => serve(config, logger), { logger });
    });
  const workerCommand = new Command('worker')
    .description(
      'workers only, one per device (HITA_WORKERS), against the queue and store of the environment',
    )
    .addOption(precisionOption())
    .action(async (options: PrecisionOptions) => {
      const config = withPrecision(readServerConfig(), options.precision);
      const logger = createLogger(config.logLevel);
      await runUntilSignal(() => work(config, logger), { logger });
    });
  const schemaCommand = new Command('schema')
    .description('print the GraphQL SDL (schema.graphql is this output, checked in)')
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (options: { out?: string }) => {
      const sdl = `${printSchema(await buildHitaSchema())}\n`;
      if (options.out) await writeFile(options.out, sdl);
      else process.stdout.write(sdl);
    });
  return [serveCommand, workerCommand, schemaCommand];
}
