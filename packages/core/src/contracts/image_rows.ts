/**
 * The layout the pixel, feature and cut files share: one row per image view, the image's identity
 * (its row id and path in split.arrow, content hash, label, split, view) and one fixed-size list
 * column of values. Next to each data file, a small index file holds the row id, sha256, label and
 * view of the same rows in the same record batches, so a reader learns a file's rows without
 * reading its values.
 */
import { FixedSizeList, Field, Int32, Schema, Utf8, ArrowFileSink, fixedSizeListColumn, fixedSizeListField, int32Column, makeRecordBatch, openArrowFile, utf8Column, type ArrowFile, type DataType, type RecordBatch } from '../arrow_io.ts';
import { UserError, errorMessage } from '../errors.ts';
import { checkSchemaVersion, schemaVersionEntries, SCHEMA_VERSION_KEY } from './schema_version.ts';
import type { SplitName } from './split.ts';

export interface ImageRowsContract {
  /** What the files are called in messages: 'pixel', 'feature'. */
  name: string;
  version: number;
  /** The values column: uint8 pixels or float32 features. */
  values: 'pixels' | 'features';
}

/** One image view's identity, as every image-rows file carries it. */
export interface ImageRow {
  /** The image's row index in split.arrow. */
  rowId: number;
  /** Relative to the data folder named by the file's `data_dir` metadata. */
  path: string;
  sha256: string;
  labelIndex: number;
  split: SplitName;
  /** 0: the plain image; training rows 1..K: augmented views; validation and test rows 1: the mirror image (test-time augmentation). */
  view: number;
}

/** Identity columns in file order; the values column follows them. The first four are the version-1 columns. */
const IDENTITY_FIELDS = [
  new Field('sha256', new Utf8(), false),
  new Field('label_index', new Int32(), false),
  new Field('split', new Utf8(), false),
  new Field('view', new Int32(), false),
  new Field('row_id', new Int32(), false),
  new Field('path', new Utf8(), false),
];
const IDENTITY_COLUMNS = IDENTITY_FIELDS.map((f) => f.name);
const INDEX_COLUMNS = ['row_id', 'sha256', 'label_index', 'view'] as const;

/** `train.arrow` -> `train.index.arrow`. */
export function imageRowsIndexFile(file: string): string {
  return file.replace(/\.arrow$/, '.index.arrow');
}

export function imageRowsSchema(contract: ImageRowsContract, listSize: number, metadata: Record<string, string>): Schema {
  return new Schema(
    [...IDENTITY_FIELDS, fixedSizeListField(contract.values, listSize, contract.values === 'pixels' ? 'uint8' : 'float32')],
    new Map([...Object.entries(metadata), ...schemaVersionEntries(contract.version)]),
  );
}

/** Streams record batches into a data file and its index, both renamed into place on close. */
export class ImageRowsWriter {
  private readonly data: ArrowFileSink;
  private readonly index: ArrowFileSink;
  private readonly listSize: number;

  constructor(file: string, readonly schema: Schema) {
    this.listSize = (schema.fields.at(-1)!.type as FixedSizeList).listSize;
    this.data = new ArrowFileSink(file, schema);
    this.index = new ArrowFileSink(imageRowsIndexFile(file), new Schema(INDEX_COLUMNS.map((name) => IDENTITY_FIELDS.find((f) => f.name === name)!), schema.metadata));
  }

  get rows(): number {
    return this.data.rows;
  }

  /** One record batch of rows, their values concatenated in row order. */
  write(rows: readonly ImageRow[], values: Uint8Array | Float32Array): void {
    this.writeColumns(
      [
        utf8Column(rows.map((r) => r.sha256)),
        int32Column(Int32Array.from(rows, (r) => r.labelIndex)),
        utf8Column(rows.map((r) => r.split)),
        int32Column(Int32Array.from(rows, (r) => r.view)),
        int32Column(Int32Array.from(rows, (r) => r.rowId)),
        utf8Column(rows.map((r) => r.path)),
      ],
      values,
    );
  }

  /** The rows of a batch read from another image-rows file, with new values: the identity columns are carried over as they are. */
  writeCarried(source: RecordBatch, values: Uint8Array | Float32Array): void {
    this.writeColumns(IDENTITY_COLUMNS.map((name) => source.getChild(name)!.data[0]!), values);
  }

  private writeColumns(identity: ReturnType<typeof utf8Column | typeof int32Column>[], values: Uint8Array | Float32Array): void {
    const batch = makeRecordBatch(this.schema, [...identity, fixedSizeListColumn(values, this.listSize)]);
    this.data.write(batch);
    this.index.write(makeRecordBatch(this.index.schema, INDEX_COLUMNS.map((name) => identity[IDENTITY_COLUMNS.indexOf(name)]!)));
  }

  async close(): Promise<void> {
    await this.data.close();
    await this.index.close();
  }

  async abort(): Promise<void> {
    await this.data.abort();
    await this.index.abort();
  }
}

export interface ImageRowsFile {
  file: string;
  arrow: ArrowFile;
  contract: ImageRowsContract;
  metadata: ReadonlyMap<string, string>;
  /** Values per row. */
  listSize: number;
}

/**
 * Opens an image-rows file of one of `contracts` (told apart by their values column) and checks
 * its schema version and columns; record batches are read on demand.
 */
export async function openImageRowsFile(file: string, contracts: readonly ImageRowsContract[]): Promise<ImageRowsFile> {
  let arrow: ArrowFile;
  try {
    arrow = await openArrowFile(file);
  } catch (error) {
    throw new UserError(`cannot read ${contracts.map((c) => c.name).join(' or ')} file ${file}: ${errorMessage(error).split('\n')[0]}`);
  }
  try {
    const names = arrow.schema.fields.map((f) => f.name);
    const contract = contracts.find((c) => names.includes(c.values));
    if (!contract) throw new UserError(`${file}: has no ${contracts.map((c) => `'${c.values}'`).join(' or ')} column`);
    const metadata = arrow.schema.metadata;
    checkSchemaVersion(file, contract.name, metadata.get(SCHEMA_VERSION_KEY), contract.version);
    const missing = IDENTITY_COLUMNS.find((name) => !names.includes(name));
    if (missing !== undefined) throw new UserError(`${file}: ${contract.name} file has no '${missing}' column`);
    const type = arrow.schema.fields.find((f) => f.name === contract.values)!.type as DataType;
    if (!(type instanceof FixedSizeList)) throw new UserError(`${file}: column '${contract.values}' is not a fixed-size list`);
    return { file, arrow, contract, metadata, listSize: type.listSize };
  } catch (error) {
    await arrow.close();
    throw error;
  }
}

/** What the index says about one record batch of the data file. */
export interface ImageRowsIndexBatch {
  rowIds: Int32Array;
  sha256: string[];
  labels: Int32Array;
  views: Int32Array;
}

/** Reads a data file's index: one entry per record batch of the data file, which must have as many. */
export async function readImageRowsIndex(rows: ImageRowsFile): Promise<ImageRowsIndexBatch[]> {
  const file = imageRowsIndexFile(rows.file);
  let index: ArrowFile;
  try {
    index = await openArrowFile(file);
  } catch (error) {
    throw new UserError(`cannot read the index ${file} of ${rows.file}: ${errorMessage(error).split('\n')[0]}`);
  }
  try {
    checkSchemaVersion(file, `${rows.contract.name} index`, index.schema.metadata.get(SCHEMA_VERSION_KEY), rows.contract.version);
    if (index.numBatches !== rows.arrow.numBatches) {
      throw new UserError(`${file} indexes ${index.numBatches} record batches, but ${rows.file} has ${rows.arrow.numBatches}: the two files do not belong together`);
    }
    const batches: ImageRowsIndexBatch[] = [];
    for await (const batch of index.batches()) {
      batches.push({
        rowIds: Int32Array.from(batch.getChild('row_id')!.toArray() as Int32Array),
        sha256: batch.getChild('sha256')!.toArray() as string[],
        labels: Int32Array.from(batch.getChild('label_index')!.toArray() as Int32Array),
        views: Int32Array.from(batch.getChild('view')!.toArray() as Int32Array),
      });
    }
    return batches;
  } finally {
    await index.close();
  }
}
