import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { DataType, MetadataVersion, Precision, type Data, type Field, type FixedSizeList, type Float, type Int, type Schema } from 'apache-arrow';
import { FileBlock, Footer } from 'apache-arrow/ipc/metadata/file';
import { Message } from 'apache-arrow/ipc/metadata/message';
import { ArrowFileSink, fixedSizeListColumn, int32Column, makeRecordBatch, openArrowFile, utf8Column, type ArrowFile } from './arrow_io.ts';
import { writeFailure } from './disk.ts';

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
 * batch is copied as it is, byte for byte, without decoding it; with it, the rows are cut into
 * batches of exactly that many (the last holds the rest), built as the stages build theirs, unless
 * the sources' batches are cut so already, when they are copied. Either way a file merged from
 * shards equals, byte for byte, the one a single process writes.
 */
export async function concatArrowFiles(target: string, sources: readonly string[], options: { rowsPerBatch?: number } = {}): Promise<number> {
  if (!sources.length) throw new Error(`concatArrowFiles: no sources for ${target}`);
  const { rowsPerBatch } = options;
  const copied = await withFooters(sources, async (inputs) =>
    rowsPerBatch === undefined || (await batchedAs(inputs, rowsPerBatch)) ? copyRecordBatches(inputs, target, sources) : undefined,
  );
  return copied ?? rebatch(target, sources, rowsPerBatch!);
}

const columnNames = (schema: Schema): string => schema.fields.map((f) => f.name).join(',');

function checkSameColumns(sources: readonly string[], schemas: readonly Schema[]): void {
  const odd = schemas.findIndex((schema) => columnNames(schema) !== columnNames(schemas[0]!));
  if (odd >= 0) throw new Error(`concatArrowFiles: ${sources[odd]} has columns ${columnNames(schemas[odd]!)}, ${sources[0]} has ${columnNames(schemas[0]!)}`);
}

async function rebatch(target: string, sources: readonly string[], rowsPerBatch: number): Promise<number> {
  const files: ArrowFile[] = [];
  try {
    for (const source of sources) files.push(await openArrowFile(source));
    checkSameColumns(sources, files.map((file) => file.schema));
    const { schema } = files[0]!;
    const sink = new ArrowFileSink(target, schema);
    try {
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

// The IPC file layout arrow-js writes (and ArrowFileSink with it): the magic padded to 8 bytes, the
// record batch messages, an end-of-stream marker, the footer (schema and each batch's block), the
// footer's length and the magic again.
const MAGIC = Buffer.from('ARROW1');
const LEADING_MAGIC = Buffer.concat([MAGIC, Buffer.alloc(2)]);
const END_OF_STREAM = Buffer.from(Int32Array.of(-1, 0).buffer);
/** A message's prefix: the continuation marker and the metadata's length, 4 bytes each. */
const MESSAGE_PREFIX_BYTES = 8;

/** The footer of an Arrow IPC file: its schema and the blocks of its record batches. */
async function readFooter(handle: FileHandle, file: string): Promise<{ schema: Schema; blocks: FileBlock[] }> {
  const notArrow = new Error(`concatArrowFiles: ${file} is not an Arrow IPC file (no footer)`);
  const { size } = await handle.stat();
  // The footer's length and the closing magic.
  const tail = Buffer.alloc(4 + MAGIC.length);
  if (size < LEADING_MAGIC.length + tail.length) throw notArrow;
  await handle.read(tail, 0, tail.length, size - tail.length);
  const footerBytes = tail.readInt32LE(0);
  if (footerBytes <= 0 || size < LEADING_MAGIC.length + tail.length + footerBytes || !tail.subarray(4).equals(MAGIC)) throw notArrow;
  const bytes = Buffer.alloc(footerBytes);
  await handle.read(bytes, 0, footerBytes, size - tail.length - footerBytes);
  let footer: Footer;
  try {
    footer = Footer.decode(bytes);
  } catch {
    throw notArrow;
  }
  if (footer.numDictionaries) throw new Error(`concatArrowFiles: ${file} has dictionary batches, which the pipeline's files never hold`);
  return { schema: footer.schema, blocks: [...footer.recordBatches()] };
}

/** The rows of the record batch whose message (metadata first) starts `message`. */
const rowsOf = (message: Buffer, block: FileBlock): number => (Message.decode(message.subarray(MESSAGE_PREFIX_BYTES, block.metaDataLength)).header() as { length: number }).length;

/** A source file, open, with what its footer says. */
interface FooterInput {
  handle: FileHandle;
  schema: Schema;
  blocks: FileBlock[];
}

/** Opens each source and reads its footer; `use` gets them all, and they are closed after. */
async function withFooters<T>(sources: readonly string[], use: (inputs: FooterInput[]) => Promise<T>): Promise<T> {
  const inputs: FooterInput[] = [];
  try {
    for (const source of sources) {
      const handle = await open(source, 'r');
      try {
        inputs.push({ handle, ...(await readFooter(handle, source)) });
      } catch (error) {
        await handle.close();
        throw error;
      }
    }
    return await use(inputs);
  } finally {
    await Promise.all(inputs.map((input) => input.handle.close()));
  }
}

/** Whether the sources' batches, one after another, are `rowsPerBatch` rows each but the last (as shards cut at batch boundaries are). Reads only their metadata. */
async function batchedAs(inputs: FooterInput[], rowsPerBatch: number): Promise<boolean> {
  const blocks = inputs.flatMap(({ handle, blocks: own }) => own.map((block) => ({ handle, block })));
  for (const [index, { handle, block }] of blocks.entries()) {
    const metadata = Buffer.alloc(block.metaDataLength);
    // A file cut short is left to the re-batching path, which names it.
    if ((await handle.read(metadata, 0, metadata.length, block.offset)).bytesRead < metadata.length) return false;
    const rows = rowsOf(metadata, block);
    if (index < blocks.length - 1 ? rows !== rowsPerBatch : rows < 1 || rows > rowsPerBatch) return false;
  }
  return true;
}

/**
 * Copies each source's record batch messages as they are into `target` and writes a footer that
 * lists them at their new offsets: the bytes one writer makes of the same batches, with no decoding
 * and no re-encoding of the data. Written to a temporary name, fsynced and renamed, as
 * ArrowFileSink does.
 */
async function copyRecordBatches(inputs: FooterInput[], target: string, sources: readonly string[]): Promise<number> {
  const temp = `${target}.partial`;
  let out: FileHandle | undefined;
  try {
    checkSameColumns(sources, inputs.map((input) => input.schema));
    out = await open(temp, 'w');
    let position = 0;
    const append = async (bytes: Uint8Array): Promise<void> => {
      await out!.write(bytes, 0, bytes.length, position);
      position += bytes.length;
    };
    await append(LEADING_MAGIC);
    const blocks: FileBlock[] = [];
    let rows = 0;
    for (const [index, { handle, blocks: sourceBlocks }] of inputs.entries()) {
      for (const block of sourceBlocks) {
        const message = Buffer.allocUnsafe(block.metaDataLength + block.bodyLength);
        const { bytesRead } = await handle.read(message, 0, message.length, block.offset);
        if (bytesRead < message.length) throw new Error(`concatArrowFiles: ${sources[index]} ends inside a record batch (truncated?)`);
        rows += rowsOf(message, block);
        blocks.push(new FileBlock(block.metaDataLength, block.bodyLength, position));
        await append(message);
      }
    }
    const footer = Footer.encode(new Footer(inputs[0]!.schema, MetadataVersion.V5, blocks, []));
    await append(Buffer.concat([END_OF_STREAM, footer, Buffer.from(Int32Array.of(footer.length).buffer), MAGIC]));
    await out.sync();
    await out.close();
    out = undefined;
    await rename(temp, target);
    return rows;
  } catch (error) {
    await out?.close();
    await rm(temp, { force: true });
    throw writeFailure(error, target);
  }
}
