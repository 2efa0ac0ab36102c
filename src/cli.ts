#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';

/** The package version; `src/cli.ts` and the built `dist/cli.js` both sit one level below the root. */
const { version } = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
) as { version: string };

/** The `hita` command line: subcommands (serve, worker, models, ...) are added by later issues. */
const program = new Command()
  .name('hita')
  .description('hita-serve: GraphQL serving platform for the Hita image generator')
  .version(version)
  .helpCommand(true);

await program.parseAsync(process.argv);
