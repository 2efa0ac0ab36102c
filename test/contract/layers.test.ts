/**
 * The import graph of src/ against the layering we intend (DESIGN.md's data flow, STYLE.md §1–2):
 * no import cycle, and no arrow that runs up or sideways between layers. Every `import`,
 * `export … from` and `import()` counts, type-only ones too: a type cycle is still two modules
 * that cannot be read apart, and one edit from a runtime cycle. Colocated `*.test.ts` files are
 * not part of the graph.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

/**
 * The layers, lowest first. A module may import its own layer and any layer of a lower rank,
 * never a higher one nor another layer of the same rank (peers stay independent). A layer is a
 * top-level folder of src/ or a top-level file without `.ts` (`cli.ts` joins `cli/`).
 *
 * The data flow reads schema → resolvers → services → queue → worker → inference → storage, but
 * imports follow who calls whom: resolvers call services, services and the worker call the
 * seams, and the seams call nothing of each other (the worker imports the queue it claims from,
 * not the other way round). Above them sit the edge (HTTP, guard, auth) and the composition
 * (config, server, main, cli).
 */
const LAYERS: readonly { rank: number; layers: readonly string[]; why: string }[] = [
  { rank: 0, layers: ['errors', 'paths'], why: 'leaves: the error catalogue, package paths' },
  {
    rank: 1,
    layers: ['storage', 'inference', 'queue'],
    why: 'the seams, each behind its interface and factory; none imports another',
  },
  {
    rank: 2,
    layers: ['schema', 'services', 'worker'],
    why:
      'over the seams: the contract classes (which may name a seam type such as JobStatus), ' +
      'the use-cases, and the worker loop (claim → infer → store); none imports another',
  },
  {
    rank: 3,
    layers: ['resolvers', 'guard', 'auth', 'metrics'],
    why: 'resolvers (schema + services), query limits and costs, API keys, Prometheus metrics',
  },
  {
    rank: 4,
    layers: ['config', 'format-error'],
    why: "config builds each seam's own config type, so it sits above the seams; the one error mapping",
  },
  { rank: 5, layers: ['http'], why: 'transports and routes over resolvers, guard and auth' },
  { rank: 6, layers: ['server'], why: 'Apollo, graphql-ws and graphql-sse on one HTTP server' },
  { rank: 7, layers: ['main'], why: 'the composition root: the only module naming engines' },
  { rank: 8, layers: ['cli'], why: 'the `hita` commands' },
];

/**
 * The domain module (the one home of a job request, STYLE.md §11): every layer may import it,
 * and it imports leaves only, so it can never pull a layer in after it.
 */
const DOMAIN: readonly string[] = ['jobs'];

/**
 * Path prefixes of the engines behind one seam, which never import each other: each is a whole
 * implementation of its interface, and what they share lives beside the interface.
 */
const ENGINES: readonly string[] = ['queue/sqlite/', 'queue/redis/', 'storage/fs-', 'storage/s3-'];

/**
 * Downward arrows that still skip a layer we want in between: the API side reaches the store and
 * the models only through services (ImageUrlService, UploadService, ModelService), so no
 * resolver or transport holds a raw ObjectStore or ModelRegistry.
 */
const NO_SKIP: readonly { from: readonly string[]; to: readonly string[] }[] = [
  { from: ['resolvers', 'http', 'server'], to: ['storage', 'inference'] },
];

const RANK = new Map(LAYERS.flatMap(({ rank, layers }) => layers.map((l) => [l, rank] as const)));
const LEAVES = LAYERS[0]!.layers;

/** src-relative paths (with `/`) of every module, tests left out. */
function modules(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return modules(path);
    const isModule = entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts');
    return isModule ? [relative(SRC, path).split(sep).join('/')] : [];
  });
}

/** Each module's relative imports, resolved to src-relative `.ts` paths. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of modules()) {
    const text = readFileSync(join(SRC, file), 'utf8');
    const { importedFiles } = ts.preProcessFile(text, true, true);
    const targets = importedFiles
      .map((ref) => ref.fileName)
      .filter((specifier) => specifier.startsWith('.'))
      .map((specifier) => {
        const target = resolve(SRC, dirname(file), specifier.replace(/\.js$/, '.ts'));
        return relative(SRC, target).split(sep).join('/');
      });
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** `cli/arguments.ts` → `cli`, `cli.ts` → `cli`, `format-error.ts` → `format-error`. */
function layerOf(file: string): string {
  const [head = ''] = file.split('/');
  return file.includes('/') ? head : head.replace(/\.ts$/, '');
}

/** Every import that the layer table forbids, as readable lines. */
function layerViolations(graph: Map<string, string[]>): string[] {
  const problems: string[] = [];
  for (const [file, targets] of graph) {
    const from = layerOf(file);
    for (const target of targets) {
      const to = layerOf(target);
      if (from === to) continue;
      const arrow = `${file} → ${target}`;
      if (DOMAIN.includes(from)) {
        if (!LEAVES.includes(to)) {
          problems.push(`${arrow}: the domain module imports leaves only (${LEAVES.join(', ')})`);
        }
      } else if (DOMAIN.includes(to)) {
        continue;
      } else if (!RANK.has(from) || !RANK.has(to)) {
        const unknown = RANK.has(from) ? to : from;
        problems.push(`${arrow}: layer '${unknown}' has no rank; add it to LAYERS`);
      } else if (RANK.get(to)! >= RANK.get(from)!) {
        const kind = RANK.get(to) === RANK.get(from) ? 'sideways (peers)' : 'upward';
        problems.push(`${arrow}: ${kind}, ${from} (${RANK.get(from)}) → ${to} (${RANK.get(to)})`);
      } else if (NO_SKIP.some((rule) => rule.from.includes(from) && rule.to.includes(to))) {
        problems.push(`${arrow}: ${from} reaches ${to} through a service, not directly`);
      }
    }
  }
  return problems;
}

/** Imports between engines of one seam. */
function engineViolations(graph: Map<string, string[]>): string[] {
  const engineOf = (file: string) => ENGINES.find((prefix) => file.startsWith(prefix));
  return [...graph].flatMap(([file, targets]) =>
    targets
      .filter((target) => {
        const [a, b] = [engineOf(file), engineOf(target)];
        return a !== undefined && b !== undefined && a !== b;
      })
      .map((target) => `${file} → ${target}: one engine imports another`),
  );
}

/** The import cycles (strongly connected components of more than one module, or a self-import). */
function cycles(graph: Map<string, string[]>): string[][] {
  // Tarjan's algorithm (https://doi.org/10.1137/0201010).
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || graph.get(node)!.includes(node)) found.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

describe('the import graph of src/', () => {
  const graph = importGraph();

  it('is read: every module, every relative import resolved to a module', () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get('main.ts')).toContain('config.ts');
    expect(graph.get('storage/fs-object-router.ts')).toContain('storage/fs-object-store.ts');
    const unresolved = [...graph].flatMap(([file, targets]) =>
      targets.filter((t) => !graph.has(t)).map((t) => `${file} → ${t}`),
    );
    expect(unresolved).toEqual([]);
  });

  it('has no cycle', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('has no upward or sideways arrow between layers', () => {
    expect(layerViolations(graph)).toEqual([]);
  });

  it("has no arrow between one seam's engines", () => {
    expect(engineViolations(graph)).toEqual([]);
  });

  it('ranks every layer that exists', () => {
    const layers = new Set([...graph.keys()].map(layerOf));
    const unranked = [...layers].filter((l) => !RANK.has(l) && !DOMAIN.includes(l));
    expect(unranked).toEqual([]);
  });
});

describe('the checks themselves', () => {
  const g = (edges: Record<string, string[]>) => new Map(Object.entries(edges));

  it('find a cycle through three modules and a self-import', () => {
    const found = cycles(
      g({ 'a.ts': ['b.ts'], 'b.ts': ['c.ts'], 'c.ts': ['a.ts'], 'd.ts': ['d.ts'], 'e.ts': [] }),
    );
    expect(found).toEqual([['a.ts', 'b.ts', 'c.ts'], ['d.ts']]);
  });

  it('refuse upward, sideways and skipping arrows, allow downward ones and the domain module', () => {
    const problems = layerViolations(
      g({
        'schema/job.types.ts': ['resolvers/job.resolver.ts', 'queue/job-queue.ts'],
        'worker/job-io.ts': ['services/job-service.ts', 'jobs/job-request.ts'],
        'jobs/job-request.ts': ['errors.ts', 'inference/inference-engine.ts'],
        'storage/x.ts': ['errors.ts'],
        'resolvers/context.ts': ['storage/object-store.ts', 'services/job-service.ts'],
        'widgets/w.ts': ['errors.ts'],
      }),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^schema\/job\.types\.ts → resolvers\/.*: upward/),
      expect.stringMatching(/^worker\/job-io\.ts → services\/.*: sideways/),
      expect.stringMatching(/^jobs\/job-request\.ts → inference\/.*: the domain module/),
      expect.stringMatching(/^resolvers\/context\.ts → storage\/.*: .*through a service/),
      expect.stringMatching(/layer 'widgets' has no rank/),
    ]);
  });

  it("refuse an arrow between one seam's engines", () => {
    expect(
      engineViolations(g({ 'queue/redis/a.ts': ['queue/sqlite/b.ts', 'queue/queue-shared.ts'] })),
    ).toEqual([expect.stringContaining('one engine imports another')]);
  });
});
