import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquirePartialWriterLease, partialWritersRoot, Workspace } from '@flowers/core';
import { collectGarbage } from '../src/gc.ts';

describe('pipeline gc and the queue writers’ leases', () => {
  it('removes the writers/<stage>/<key>/ folders no live writer holds, and keeps a live one', async () => {
    const workspace = new Workspace(mkdtempSync(path.join(os.tmpdir(), 'cli-gc-writers-')));
    const root = partialWritersRoot(workspace);
    await (await acquirePartialWriterLease(workspace, 'augment', 'done')).release();
    const live = await acquirePartialWriterLease(workspace, 'features', 'busy');
    expect(existsSync(path.join(root, 'augment', 'done'))).toBe(true);
    await collectGarbage(workspace);
    expect(existsSync(path.join(root, 'augment'))).toBe(false);
    expect(existsSync(path.join(root, 'features', 'busy'))).toBe(true);
    await live.release();
    await collectGarbage(workspace);
    expect(existsSync(root) ? readdirSync(root) : []).toEqual([]);
  });
});
