import { createWriteStream } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import {
  DataType,
  Field,
  FixedSizeList,
  Float32,
  Int32,
  RecordBatch,
  RecordBatchFileWriter,
  RecordBatchReader,
  Schema,
  Struct,
  Uint8,
  Utf8,
  makeData,
  tableFromIPC,
  vectorFromArray,
  type Data,
  type Table,
  type TypeMap,
} from 'apache-arrow';
import { fsyncPath } from './atomic.ts';
import { writeFailure } from './disk.ts';

export { DataType, Field, FixedSizeList, Float32, Int32, Schema, Uint8, Utf8, RecordBatch, type Table };

export function utf8Column(values: readonly string[]): Data<Utf8> {
  return vectorFromArray(values as string[], new Utf8()).data[0]!;
}

export function int32Column(values: Int32Array): Data<Int32> {
  return makeData({ type: new Int32(), length: values.length, nullCount: 0, data: values });
}

/** A fixed-size list column (pixels as uint8, features as float32) from one flat buffer. */
export function fixedSizeListColumn(values: Uint8Array | Float32Array, listSize: number): Data<FixedSizeList> {
  const childType = values instanceof Uint8Array ? new Uint8() : new Float32();
  const child = makeData({ type: childType, length: values.length, nullCount: 0, data: values } as never) as Data;
  const type = new FixedSizeList(listSize, new Field('item', childType, false));
  return makeData({ type, length: values.length / listSize, nullCount: 0, child } as never) as unknown as Data<FixedSizeList>;
}

export function fixedSizeListField(name: string, listSize: number, item: 'uint8' | 'float32'): Field {
  const childType = item === 'uint8' ? new Uint8() : new Float32();
  return new Field(name, new FixedSizeList(listSize, new Field('item', childType, false)), false);
}

/** One record batch from columns given in schema order. */
export function makeRecordBatch<T extends TypeMap>(schema: Schema<T>, columns: Data<DataType>[]): RecordBatch<T> {
  const length = columns[0]?.length ?? 0;
  const data = makeData({ type: new Struct(schema.fields), length, nullCount: 0, children: columns });
  return new RecordBatch(schema, data as never);
}

/**
 * Streams record batches into an Arrow IPC file: written to a temporary name, fsynced and
 * renamed on `close()`, so readers never see half a file. Memory holds one batch at a time.
 */
export class ArrowFileSink {
  private readonly writer: RecordBatchFileWriter;
  private readonly done: Promise<void>;
  private readonly temp: string;
  rows = 0;

  constructor(
    private readonly file: string,
    readonly schema: Schema,
  ) {
    this.temp = `${file}.partial`;
    this.writer = new RecordBatchFileWriter();
    const out = createWriteStream(this.temp);
    this.done = new Promise((resolve, reject) => {
      out.on('finish', resolve);
      out.on('error', reject);
    });
    // A write error (a full disk) is reported by close(), not as an unhandled rejection.
    this.done.catch(() => undefined);
    this.writer.pipe(out);
    this.writer.reset(undefined, schema);
  }

  write(batch: RecordBatch): void {
    this.rows += batch.numRows;
    this.writer.write(batch);
  }

  async close(): Promise<void> {
    this.writer.finish();
    try {
      await this.done;
      await fsyncPath(this.temp);
      await rename(this.temp, this.file);
    } catch (error) {
      throw writeFailure(error, this.file);
    }
  }

  /** Drops the file on failure. */
  async abort(): Promise<void> {
    // Ends the file and deletes it: writer.abort() leaves the stream unsettled and rejects a
    // promise nobody handles.
    this.writer.finish();
    await this.done.catch(() => undefined);
    await rm(this.temp, { force: true });
  }
}

/** Whole-file read, for small files (split lists, predictions). */
export async function readArrowTable(file: string): Promise<Table> {
  return tableFromIPC(await readFile(file));
}

/** Streams an Arrow IPC file batch by batch, with random access to batches by index. */
export async function openArrowFile(file: string) {
  const handle = await open(file, 'r');
  const startReading = async () => {
    const reader = await RecordBatchReader.from(handle);
    await reader.open();
    if (!reader.isFile()) throw new Error(`${file} is an Arrow stream, not an Arrow IPC file`);
    return reader;
  };
  const reader = await startReading().catch(async (error: unknown) => {
    // Not a readable Arrow IPC file: never leave its descriptor open.
    await handle.close();
    throw error;
  });
  return {
    schema: reader.schema,
    numBatches: reader.numRecordBatches,
    async readBatch(index: number): Promise<RecordBatch> {
      const batch = await reader.readRecordBatch(index);
      if (!batch) throw new Error(`${file}: record batch ${index} is missing`);
      return batch;
    },
    async *batches(): AsyncGenerator<RecordBatch> {
      for (let i = 0; i < reader.numRecordBatches; i++) yield await this.readBatch(i);
    },
    async close(): Promise<void> {
      await reader.cancel();
      await handle.close().catch(() => undefined);
    },
  };
}
export type ArrowFile = Awaited<ReturnType<typeof openArrowFile>>;
