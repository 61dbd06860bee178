import { DataType, Precision, type Data, type Field, type FixedSizeList, type Float, type Int, type RecordBatch } from 'apache-arrow';
import { ArrowFileSink, fixedSizeListColumn, int32Column, makeRecordBatch, openArrowFile, utf8Column, type ArrowFile } from './arrow_io.ts';

/** A column's values in a plain array: strings, int32s, or a fixed-size list's flat items. */
type Values = string[] | Int32Array | Uint8Array | Float32Array;

interface Column {
  values: Values;
  /** Items per row: 1, or the fixed-size list's size. */
  width: number;
}

// Read back, a file's types are the generic Int and Float, never Int32 or Float32: checked by their fields.
const isInt32 = (type: DataType): type is Int => DataType.isInt(type) && type.bitWidth === 32 && type.isSigned;
const isUint8 = (type: DataType): type is Int => DataType.isInt(type) && type.bitWidth === 8 && !type.isSigned;
const isFloat32 = (type: DataType): type is Float => DataType.isFloat(type) && type.precision === Precision.SINGLE;
const isByteOrFloatList = (type: DataType): type is FixedSizeList => DataType.isFixedSizeList(type) && (isUint8(type.children[0]!.type) || isFloat32(type.children[0]!.type));

function columnOf(data: Data<DataType>, field: Field): Column {
  const { type } = field;
  if (DataType.isUtf8(type)) {
    const offsets = data.valueOffsets as Int32Array;
    const bytes = data.values as Uint8Array;
    const decoder = new TextDecoder();
    const strings = Array.from({ length: data.length }, (_, i) => decoder.decode(bytes.subarray(offsets[data.offset + i]!, offsets[data.offset + i + 1]!)));
    return { values: strings, width: 1 };
  }
  if (isInt32(type)) return { values: (data.values as Int32Array).subarray(data.offset, data.offset + data.length), width: 1 };
  if (isByteOrFloatList(type)) {
    const child = data.children[0]!;
    const start = child.offset + data.offset * type.listSize;
    return { values: (child.values as Uint8Array | Float32Array).subarray(start, start + data.length * type.listSize), width: type.listSize };
  }
  throw new Error(`re-batching Arrow files: column '${field.name}' has type ${String(type)}, which the pipeline's files never hold`);
}

function concatValues(parts: Values[]): Values {
  const first = parts[0]!;
  if (Array.isArray(first)) return (parts as string[][]).flat();
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new (first.constructor as Int32ArrayConstructor | Uint8ArrayConstructor | Float32ArrayConstructor)(total);
  let at = 0;
  for (const part of parts as Array<Int32Array | Uint8Array | Float32Array>) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A column built as the stages build theirs (utf8Column, int32Column, fixedSizeListColumn). */
function dataOf(field: Field, column: Column): Data<DataType> {
  if (DataType.isUtf8(field.type)) return utf8Column(column.values as string[]);
  if (isInt32(field.type)) return int32Column(column.values as Int32Array);
  return fixedSizeListColumn(column.values as Uint8Array | Float32Array, column.width);
}

/** Rows `[start, end)` of one source batch, waiting to go into an output batch. */
interface Segment {
  columns: Column[];
  start: number;
  end: number;
}

/**
 * Writes the record batches of `sources` (Arrow IPC files of one schema, e.g. a stage's shard
 * outputs) into `target`, in order, and returns the rows written. Without `rowsPerBatch` each
 * batch is copied as it is; with it, the rows are cut into batches of exactly that many (the last
 * holds the rest), built as the stages build theirs, so a file merged from shards equals, byte
 * for byte, the one a single process writes.
 */
export async function concatArrowFiles(target: string, sources: readonly string[], options: { rowsPerBatch?: number } = {}): Promise<number> {
  if (!sources.length) throw new Error(`concatArrowFiles: no sources for ${target}`);
  const files: ArrowFile[] = [];
  try {
    for (const source of sources) files.push(await openArrowFile(source));
    const { schema } = files[0]!;
    const names = (file: ArrowFile): string => file.schema.fields.map((f) => f.name).join(',');
    const odd = files.findIndex((file) => names(file) !== names(files[0]!));
    if (odd >= 0) throw new Error(`concatArrowFiles: ${sources[odd]} has columns ${names(files[odd]!)}, ${sources[0]} has ${names(files[0]!)}`);
    const sink = new ArrowFileSink(target, schema);
    try {
      const { rowsPerBatch } = options;
      const pending: Segment[] = [];
      let pendingRows = 0;
      const emit = (rows: number): void => {
        const taken: Segment[] = [];
        let need = rows;
        while (need > 0) {
          const segment = pending[0]!;
          const count = Math.min(need, segment.end - segment.start);
          taken.push({ ...segment, end: segment.start + count });
          segment.start += count;
          if (segment.start === segment.end) pending.shift();
          need -= count;
        }
        pendingRows -= rows;
        const columns = schema.fields.map((field, c) =>
          dataOf(field, {
            values: concatValues(taken.map(({ columns: cols, start, end }) => cols[c]!.values.slice(start * cols[c]!.width, end * cols[c]!.width))),
            width: taken[0]!.columns[c]!.width,
          }),
        );
        sink.write(makeRecordBatch(schema, columns));
      };
      for (const file of files) {
        for await (const batch of file.batches()) {
          if (rowsPerBatch === undefined) {
            sink.write(batch as RecordBatch);
            continue;
          }
          if (!batch.numRows) continue;
          pending.push({ columns: schema.fields.map((field, c) => columnOf(batch.data.children[c]!, field)), start: 0, end: batch.numRows });
          pendingRows += batch.numRows;
          while (pendingRows >= rowsPerBatch) emit(rowsPerBatch);
        }
      }
      if (pendingRows > 0) emit(pendingRows);
      await sink.close();
      return sink.rows;
    } catch (error) {
      await sink.abort();
      throw error;
    }
  } finally {
    await Promise.all(files.map((file) => file.close()));
  }
}
