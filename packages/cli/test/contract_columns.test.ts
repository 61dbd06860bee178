import path from 'node:path';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readArrowTable } from '@flowers/core';
import { readSplitFile } from '@flowers/core/contracts';
import { arrowFingerprint, jsonFingerprint, type ArrowFingerprint } from './golden/column_hashes.ts';
import { SHARED_DIR } from '../../../shared_folder.ts';
import { runContractPipeline } from './golden/contract_pipeline.ts';

const golden = JSON.parse(readFileSync(new URL('./golden/columns_before_contracts.json', import.meta.url), 'utf8')) as {
  files: Record<string, ArrowFingerprint | Record<string, string>>;
};

/** Files whose contract gained columns (or keys): their old ones must keep their values; the others must not change at all. */
const GROWN = /^(augment|features|features\/cut)\/(train|validation|test)\.arrow$|^train\/(predictions\.arrow|metrics\.json)$/;

describe('the data files between stages', () => {
  let root: string;
  beforeAll(async () => {
    ({ root } = await runContractPipeline());
  });

  it('keep the column values (and metadata) the code before the contracts wrote', async () => {
    for (const [file, before] of Object.entries(golden.files)) {
      const grown = GROWN.test(file);
      if (file.endsWith('.arrow')) {
        const now = await arrowFingerprint(path.join(root, file), { [root]: '<root>', [SHARED_DIR]: '<shared>' });
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

  it("carry each image's row id and path in split.arrow, and its data folder", async () => {
    const split = await readSplitFile(path.join(root, 'ingest', 'split.arrow'));
    const grownArrow = Object.keys(golden.files).filter((file) => file.endsWith('.arrow') && GROWN.test(file));
    expect(grownArrow).toHaveLength(10);
    for (const file of grownArrow) {
      const table = await readArrowTable(path.join(root, file));
      expect(table.schema.metadata.get('data_dir'), file).toBe(split.dataDir);
      const rowIds = table.getChild('row_id')!.toArray() as Int32Array;
      const paths = table.getChild('path')!.toArray() as string[];
      const shas = table.getChild('sha256')!.toArray() as string[];
      expect(rowIds.length, file).toBeGreaterThan(0);
      rowIds.forEach((rowId, i) => {
        expect(split.rows[rowId]!.path, `${file} row ${i}`).toBe(paths[i]);
        expect(split.rows[rowId]!.sha256, `${file} row ${i}`).toBe(shas[i]);
      });
    }
  });
});

/** `values` restricted to the keys of `like`. */
function pick(values: Record<string, string>, like: object): Record<string, string> {
  return Object.fromEntries(Object.keys(like).map((k) => [k, values[k]!]));
}
