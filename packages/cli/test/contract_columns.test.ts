import path from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { arrowFingerprint, jsonFingerprint, type ArrowFingerprint } from './golden/column_hashes.ts';
import { runContractPipeline } from './golden/contract_pipeline.ts';

const golden = JSON.parse(readFileSync(new URL('./golden/columns_before_contracts.json', import.meta.url), 'utf8')) as {
  files: Record<string, ArrowFingerprint | Record<string, string>>;
};

/** Files whose contract gained columns (or keys): their old ones must keep their values; the others must not change at all. */
const GROWN = /^(augment|features|features\/cut)\/(train|validation|test)\.arrow$|^train\/(predictions\.arrow|metrics\.json)$/;

describe('the data files between stages', () => {
  it('keep the column values (and metadata) the code before the contracts wrote', async () => {
    const { root } = await runContractPipeline();
    for (const [file, before] of Object.entries(golden.files)) {
      const grown = GROWN.test(file);
      if (file.endsWith('.arrow')) {
        const now = await arrowFingerprint(path.join(root, file), root);
        const old = before as ArrowFingerprint;
        expect(now.rows, file).toBe(old.rows);
        expect(grown ? pick(now.columns, old.columns) : now.columns, file).toEqual(old.columns);
        expect(grown ? pick(now.metadata, old.metadata) : now.metadata, file).toEqual(old.metadata);
      } else {
        const now = jsonFingerprint(path.join(root, file));
        expect(grown ? pick(now, before) : now, file).toEqual(before);
      }
    }
  });
});

/** `values` restricted to the keys of `like`. */
function pick(values: Record<string, string>, like: object): Record<string, string> {
  return Object.fromEntries(Object.keys(like).map((k) => [k, values[k]!]));
}
