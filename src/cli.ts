#!/usr/bin/env node
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { generationCommands } from './cli/generation-commands.js';
import { modelsCommand } from './cli/models-command.js';
import { serverCommands } from './cli/server-commands.js';
import { isAppError } from './errors.js';

/** The package version; `src/cli.ts` and the built `dist/cli.js` both sit one level below the root. */
const { version } = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
) as {
  version: string;
};

const program = new Command()
  .name('hita')
  .description('hita-serve: GraphQL serving platform for the Hita image generator')
  .version(version)
  .helpCommand(true);
for (const command of [...serverCommands(), ...generationCommands(), modelsCommand()])
  program.addCommand(command);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Bad input of any kind ends in one line and a non-zero exit, never a stack trace.
  const message = isAppError(error) || error instanceof Error ? error.message : String(error);
  process.stderr.write(`hita: ${message}\n`);
  process.exitCode = 2;
}
