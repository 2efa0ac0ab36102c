import { Command } from 'commander';
import { readInferenceConfig } from '../config.js';
import { ModelRegistry } from '../inference/model/model-registry.js';

export function modelsCommand(): Command {
  return new Command('models')
    .description('list the models under HITA_MODELS_DIR')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const config = readInferenceConfig();
      const registry = new ModelRegistry({
        modelsDir: config.modelsDir,
        defaultModel: config.defaultModel,
        onBroken: (dir, error) => process.stderr.write(`hita: skipping ${dir}: ${error.message}\n`),
      });
      const models = await registry.list();
      const rows = models.map((m) => ({
        id: m.id,
        default: m.id === config.defaultModel,
        imageSize: m.imageSize,
        classes: m.classes.length,
        capabilities: Object.entries(m.capabilities)
          .filter(([, on]) => on)
          .map(([name]) => name),
        precisions: m.gptPrecisions,
        description: m.manifest.description,
      }));
      if (options.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      for (const row of rows) {
        process.stdout.write(
          `${row.default ? '*' : ' '} ${row.id}\t${row.imageSize}px\t${row.classes} classes\t${row.capabilities.join(',')}\t${row.precisions.join(',')}\t${row.description}\n`,
        );
      }
    });
}
