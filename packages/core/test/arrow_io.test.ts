import { mkdtempSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { ArrowFileSink, Field, Int32, int32Column, makeRecordBatch, openArrowFile, Schema } from '../src/index.ts';

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'core-arrow-io-'));

/** Paths this process holds open (Linux). */
function openPaths(): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      return [readlinkSync(path.join('/proc/self/fd', fd))];
    } catch {
      return []; // closed between the listing and the read
    }
  });
}

describe('openArrowFile', () => {
  it('reads an Arrow IPC file batch by batch and closes it', async () => {
    const file = path.join(tmp(), 'values.arrow');
    writeFileSync(file, tableToIPC(tableFromArrays({ value: Int32Array.from([3, 1, 4, 1, 5]) }), 'file'));
    const arrow = await openArrowFile(file);
    const values: number[] = [];
    for await (const batch of arrow.batches()) values.push(...(batch.getChild('value')!.toArray() as Int32Array));
    expect(values).toEqual([3, 1, 4, 1, 5]);
    expect(openPaths()).toContain(file);
    await arrow.close();
    expect(openPaths()).not.toContain(file);
  });

  it('rejects an Arrow stream and a non-Arrow file without leaving them open', async () => {
    const dir = tmp();
    const stream = path.join(dir, 'stream.arrow');
    writeFileSync(stream, tableToIPC(tableFromArrays({ value: Int32Array.from([1, 2]) }), 'stream'));
    const text = path.join(dir, 'notes.arrow');
    writeFileSync(text, 'these are not Arrow bytes\n'.repeat(20));
    await expect(openArrowFile(stream)).rejects.toThrow(`${stream} is an Arrow stream, not an Arrow IPC file`);
    await expect(openArrowFile(text)).rejects.toThrow();
    expect(openPaths()).not.toContain(stream);
    expect(openPaths()).not.toContain(text);
  });

  it('an aborted sink settles and leaves no file', async () => {
    const dir = tmp();
    const schema = new Schema([new Field('n', new Int32(), false)]);
    const sink = new ArrowFileSink(path.join(dir, 'x.arrow'), schema);
    sink.write(makeRecordBatch(schema, [int32Column(Int32Array.from({ length: 10 }, (_, i) => i))]));
    await sink.abort();
    expect(readdirSync(dir)).toEqual([]);
  });
});
