import { existsSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ArrowFileSink, Field, Int32, int32Column, makeRecordBatch, Schema, writeFileAtomic } from '../src/index.ts';

// Opening a file can be made to fail as on a full disk.
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  return { ...actual, open: vi.fn(actual.open) };
});

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'core-disk-full-'));
const enospc = (): Error => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

describe('a full disk', () => {
  it('makes an atomic write fail naming the file, leaving nothing behind', async () => {
    const dir = tmp();
    const file = path.join(dir, 'state.json');
    vi.mocked(open).mockRejectedValueOnce(enospc());
    await expect(writeFileAtomic(file, '{}')).rejects.toThrow(`cannot write ${file}: the disk is full (ENOSPC)`);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('makes an Arrow sink fail on close naming the file', async () => {
    const dir = tmp();
    const file = path.join(dir, 'train.arrow');
    // Its temporary file writes to /dev/full, which answers every write with ENOSPC.
    symlinkSync('/dev/full', `${file}.partial`);
    const schema = new Schema([new Field('n', new Int32(), false)]);
    const sink = new ArrowFileSink(file, schema);
    sink.write(makeRecordBatch(schema, [int32Column(Int32Array.from({ length: 1000 }, (_, i) => i))]));
    await expect(sink.close()).rejects.toThrow(`cannot write ${file}: the disk is full (ENOSPC)`);
    await sink.abort();
    expect(existsSync(file)).toBe(false);
  });
});
