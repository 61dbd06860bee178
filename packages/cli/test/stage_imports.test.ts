import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PACKAGES = fileURLToPath(new URL('../../', import.meta.url));
/** The stages: each reads its inputs through @flowers/core's contracts, never from another stage. */
const STAGES = ['ingest', 'augment', 'features', 'train', 'report'];
const WORKSPACE_PACKAGES = readdirSync(PACKAGES).map((name) => `@flowers/${name}`);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/** Workspace packages other than core that `text` imports (static or dynamic imports, re-exports). */
function workspaceImports(text: string): string[] {
  const specifiers = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)['"](@flowers\/[\w-]+)/g)].map((m) => m[1]!);
  return specifiers.filter((name) => name !== '@flowers/core');
}

describe('stage packages', () => {
  it('finds imports of other workspace packages in every form', () => {
    expect(workspaceImports("import { a } from '@flowers/ingest';\nexport { b } from \"@flowers/train/x\";\nawait import('@flowers/report');\nimport '@flowers/augment';\nimport { c } from '@flowers/core/contracts';")).toEqual([
      '@flowers/ingest', '@flowers/train', '@flowers/report', '@flowers/augment',
    ]);
  });

  it.each(STAGES)('%s imports no workspace package but @flowers/core, in its sources and its package.json', (stage) => {
    const dir = path.join(PACKAGES, stage);
    const imports = sourceFiles(path.join(dir, 'src')).flatMap((file) => workspaceImports(readFileSync(file, 'utf8')).map((name) => `${path.relative(PACKAGES, file)}: ${name}`));
    expect(imports).toEqual([]);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    const listed = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'].flatMap((field) =>
      Object.keys(manifest[field] ?? {}).filter((name) => WORKSPACE_PACKAGES.includes(name) && name !== '@flowers/core').map((name) => `${field}: ${name}`),
    );
    expect(listed).toEqual([]);
  });
});
