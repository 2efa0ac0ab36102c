// Checks model directories (or bare model.json files) with the runtime's own code, so the Python
// tools' tests can prove that what they write is servable, not merely what they meant to write.
//   node scripts/check-model.mjs DIR|model.json ...      (after npm run build)
// A directory goes through loadModel (schema, cross-checks, files, graph inputs and outputs);
// a .json file through the manifest schema alone. Prints `ok PATH` or `invalid PATH: why` per
// argument; exits 0 when all are valid, 1 when any is not, 2 on a usage error.
import { readFile, stat } from 'node:fs/promises';
import { loadModel } from '../dist/inference/model/model-loader.js';
import { parseManifest } from '../dist/inference/model/model-manifest.js';

const paths = process.argv.slice(2);
if (!paths.length) {
  console.error('usage: node scripts/check-model.mjs DIR|model.json ...');
  process.exit(2);
}

let isAllValid = true;
for (const path of paths) {
  try {
    if ((await stat(path)).isDirectory()) {
      await loadModel(path);
    } else {
      parseManifest(JSON.parse(await readFile(path, 'utf8')), path);
    }
    console.log(`ok ${path}`);
  } catch (error) {
    isAllValid = false;
    console.log(`invalid ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
process.exit(isAllValid ? 0 : 1);
