import * as tf from '@tensorflow/tfjs';
import { createRandom, shuffleInPlace, UserError, type ArrowFile, type RecordBatch } from '@flowers/core';
import { FEATURES_CONTRACT, openImageRowsFile, PIXELS_CONTRACT, readImageRowsIndex, type ImageRowsIndexBatch } from '@flowers/core/contracts';

/** One mini-batch: inputs, one-hot targets, and which rows they are. */
export interface Batch {
  /** [n, size, size, 3] pixels (times `rescale`) or [n, ...featureShape] features. */
  x: tf.Tensor;
  /** [n, classes] one-hot. */
  y: tf.Tensor2D;
  n: number;
  labels: Int32Array;
  /** Which images the rows are, in eval sources only. */
  identity?: BatchIdentity;
}

export interface BatchIdentity {
  sha256: string[];
  /** Rows in split.arrow. */
  rowIds: number[];
  /** Relative to the file's data folder (its `data_dir` metadata). */
  paths: string[];
}

export interface ArrowBatchSourceOptions {
  batchSize: number;
  /** 'train': rows as `epochViews` says, reshuffled each epoch; 'eval': the rows of one view (`view`) in file order, with ids. */
  role: 'train' | 'eval';
  /** Eval: the view to read; 0 (the default) is the plain image, 1 in a validation or test file its mirror image. */
  view?: number;
  /**
   * Training rows per epoch: 'all' takes every view of every photo; 1 takes one augmented view of
   * each photo, view 1 + p(epoch mod K) for K augmented views and a permutation p drawn per photo
   * from (seed, sha256), so an epoch is one pass over the photos, as in Keras' flow_from_directory,
   * and consecutive epochs take different views. Default 'all'.
   */
  epochViews?: EpochViews;
  /** Multiplies input values (1/255 for pixels into [0, 1]); default 1. */
  rescale?: number;
  /** Seed of the per-epoch shuffle (train). */
  seed?: number;
  /** Rows are shuffled within windows of this many record batches (train); default 4. */
  shuffleWindow?: number;
}

export type EpochViews = 1 | 'all';

/** What the file's index says about one record batch. */
interface RecordBatchInfo {
  labels: Int32Array;
  /** Rows in the record batch, which it must still have when read. */
  length: number;
  /** Row indices this source uses (all rows, or the view-0 rows; with one view per epoch, the augmented rows). */
  rows: Int32Array;
  /** With one view per epoch: for each of `rows`, the epoch (mod K) that takes it. */
  turns?: Int32Array;
}

/** A record batch's decoded columns, kept only while its rows are being batched. */
interface LoadedRecordBatch {
  values: Uint8Array | Float32Array;
  labels: Int32Array;
  /** Eval sources: the identity columns. */
  identity?: { sha256: StringColumn; rowIds: Int32Array; paths: StringColumn };
}

type StringColumn = { get(i: number): string | null };

const ROW_BITS = 2 ** 24;

function column(batch: RecordBatch, name: string, file: string) {
  const vector = batch.getChild(name);
  if (!vector) throw new UserError(`${file}: missing column '${name}'`);
  return vector;
}

function parseJsonMetadata(file: string, key: string, value: string | undefined): unknown {
  if (value === undefined) throw new UserError(`${file}: schema metadata has no '${key}'`);
  try {
    return JSON.parse(value);
  } catch {
    throw new UserError(`${file}: schema metadata '${key}' is not valid JSON: ${value.slice(0, 80)}`);
  }
}

/**
 * Mini-batches from one pixel or feature file (one row per image view), streamed record batch by
 * record batch so memory stays flat however large the file. Opening reads the file's schema and
 * its small index file (labels, views, ids); row values are read batch by batch every epoch.
 */
export class ArrowBatchSource {
  readonly classes: string[];
  readonly inputKind: 'pixels' | 'features';
  /** Shape of one row's input: [size, size, 3] or the feature shape. */
  readonly rowShape: number[];
  readonly rowSize: number;
  /** Rows per epoch. */
  readonly numRows: number;
  /** Rows per class (train: all views). */
  readonly labelCounts: Int32Array;
  readonly metadata: ReadonlyMap<string, string>;
  private readonly rescale: number;
  private readonly shuffleWindow: number;

  private constructor(
    readonly file: string,
    private readonly arrow: ArrowFile,
    private readonly infos: RecordBatchInfo[],
    private readonly options: ArrowBatchSourceOptions,
    header: { classes: string[]; inputKind: 'pixels' | 'features'; rowShape: number[] },
    /** With one view per epoch: K, the augmented views per photo. */
    private readonly augmentedViews?: number,
  ) {
    this.classes = header.classes;
    this.inputKind = header.inputKind;
    this.rowShape = header.rowShape;
    this.rowSize = header.rowShape.reduce((a, b) => a * b, 1);
    this.metadata = arrow.schema.metadata;
    this.rescale = options.rescale ?? 1;
    this.shuffleWindow = Math.max(1, options.shuffleWindow ?? 4);
    this.labelCounts = new Int32Array(header.classes.length);
    let rows = 0;
    // With one view per epoch, every epoch takes each photo once: count the turn-0 rows.
    for (const info of infos) {
      info.rows.forEach((row, k) => {
        if (info.turns !== undefined && info.turns[k] !== 0) return;
        rows += 1;
        this.labelCounts[info.labels[row]!]! += 1;
      });
    }
    this.numRows = rows;
  }

  static async open(file: string, options: ArrowBatchSourceOptions): Promise<ArrowBatchSource> {
    const rows = await openImageRowsFile(file, [PIXELS_CONTRACT, FEATURES_CONTRACT]);
    const { arrow } = rows;
    try {
      const header = ArrowBatchSource.readHeader(file, arrow);
      const index = await readImageRowsIndex(rows);
      const infos: RecordBatchInfo[] = index.map(({ labels, views }, i) => {
        if (labels.length >= ROW_BITS) throw new UserError(`${file}: record batch ${i} has ${labels.length} rows, more than ${ROW_BITS - 1}`);
        const bad = labels.findIndex((label) => label < 0 || label >= header.classes.length);
        if (bad >= 0) throw new UserError(`${file}: label_index ${labels[bad]} in record batch ${i} is outside the ${header.classes.length} classes`);
        const all = Int32Array.from({ length: labels.length }, (_, row) => row);
        return { labels, length: labels.length, rows: options.role === 'eval' ? all.filter((row) => views[row] === (options.view ?? 0)) : all };
      });
      const augmentedViews = options.role === 'train' && options.epochViews === 1 ? ArrowBatchSource.assignTurns(file, index, infos, options.seed ?? 0) : undefined;
      return new ArrowBatchSource(file, arrow, infos, options, header, augmentedViews);
    } catch (error) {
      await arrow.close();
      throw error;
    }
  }

  /**
   * Keeps the augmented rows and gives each its turn: with K augmented views per photo, view v of
   * a photo is taken in the epochs e with e mod K = the position of v - 1 in the photo's
   * permutation of 0..K-1.
   */
  private static assignTurns(file: string, index: ImageRowsIndexBatch[], infos: RecordBatchInfo[], seed: number): number {
    let augmentedViews = 0;
    for (const { views } of index) for (const view of views) augmentedViews = Math.max(augmentedViews, view);
    if (augmentedViews === 0) throw new UserError(`--epoch-views 1 takes one augmented view per photo per epoch, but ${file} has none (view 0 only): use --epoch-views all or add --views`);
    const positions = new Map<string, Int32Array>();
    infos.forEach((info, i) => {
      const { views, sha256 } = index[i]!;
      const kept = Array.from(info.rows).filter((row) => views[row]! > 0);
      info.rows = Int32Array.from(kept);
      info.turns = Int32Array.from(kept, (row) => {
        const photo = sha256[row]!;
        let position = positions.get(photo);
        if (position === undefined) {
          const order = shuffleInPlace(Array.from({ length: augmentedViews }, (_, k) => k), createRandom(seed, 'epoch-views', photo));
          position = new Int32Array(augmentedViews);
          order.forEach((view, at) => (position![view] = at));
          positions.set(photo, position);
        }
        return position[views[row]! - 1]!;
      });
    });
    return augmentedViews;
  }

  private static readHeader(file: string, arrow: ArrowFile): { classes: string[]; inputKind: 'pixels' | 'features'; rowShape: number[] } {
    const meta = arrow.schema.metadata;
    const classes = parseJsonMetadata(file, 'classes', meta.get('classes'));
    if (!Array.isArray(classes) || classes.length < 2 || !classes.every((c) => typeof c === 'string')) {
      throw new UserError(`${file}: schema metadata 'classes' must be a list of at least 2 class names`);
    }
    const pixels = arrow.schema.fields.find((f) => f.name === 'pixels');
    const features = arrow.schema.fields.find((f) => f.name === 'features');
    const field = pixels ?? features;
    if (!field) throw new UserError(`${file}: has neither a 'pixels' nor a 'features' column`);
    let rowShape: number[];
    if (pixels) {
      const size = Number(meta.get('size'));
      if (!Number.isInteger(size) || size < 1) throw new UserError(`${file}: schema metadata 'size' must be a whole number, got '${meta.get('size')}'`);
      rowShape = [size, size, 3];
    } else {
      const shape = parseJsonMetadata(file, 'feature_shape', meta.get('feature_shape'));
      if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
        throw new UserError(`${file}: schema metadata 'feature_shape' must be a list of positive whole numbers`);
      }
      rowShape = shape as number[];
    }
    const listSize = (field.type as { listSize?: number }).listSize;
    const expected = rowShape.reduce((a, b) => a * b, 1);
    if (listSize !== expected) throw new UserError(`${file}: column '${field.name}' holds ${listSize} values per row, expected ${expected} for shape [${rowShape.join(', ')}]`);
    return { classes: classes as string[], inputKind: pixels ? 'pixels' : 'features', rowShape };
  }

  /** Batches per epoch. */
  get stepsPerEpoch(): number {
    return Math.ceil(this.numRows / this.options.batchSize);
  }

  /** The Arrow reader seeks a shared file handle: one read at a time, queued. */
  private readQueue: Promise<unknown> = Promise.resolve();

  private load(index: number): Promise<LoadedRecordBatch> {
    const read = this.readQueue.then(() => this.decode(index));
    this.readQueue = read.catch(() => undefined);
    return read;
  }

  private async decode(index: number): Promise<LoadedRecordBatch> {
    const batch = await this.arrow.readBatch(index);
    const info = this.infos[index]!;
    if (batch.numRows !== info.length) throw new UserError(`${this.file}: record batch ${index} has ${batch.numRows} rows, its index ${info.length}: the two files do not belong together`);
    const data = column(batch, this.inputKind, this.file).data[0]!;
    const child = data.children[0]!;
    const start = child.offset + data.offset * this.rowSize;
    const values = (child.values as Uint8Array | Float32Array).subarray(start, start + data.length * this.rowSize);
    return {
      values,
      labels: info.labels,
      ...(this.options.role === 'eval'
        ? {
            identity: {
              sha256: column(batch, 'sha256', this.file) as StringColumn,
              rowIds: column(batch, 'row_id', this.file).toArray() as Int32Array,
              paths: column(batch, 'path', this.file) as StringColumn,
            },
          }
        : {}),
    };
  }

  private makeBatch(refs: number[], loaded: Map<number, LoadedRecordBatch>): Batch {
    const n = refs.length;
    const x = new Float32Array(n * this.rowSize);
    const labels = new Int32Array(n);
    const identity: BatchIdentity | undefined = this.options.role === 'eval' ? { sha256: [], rowIds: [], paths: [] } : undefined;
    refs.forEach((ref, k) => {
      const row = ref % ROW_BITS;
      const source = loaded.get((ref - row) / ROW_BITS)!;
      // One typed-array copy per row; Uint8 -> Float32 conversion happens inside `set`.
      x.set(source.values.subarray(row * this.rowSize, (row + 1) * this.rowSize), k * this.rowSize);
      labels[k] = source.labels[row]!;
      if (identity) {
        identity.sha256.push(source.identity!.sha256.get(row) ?? '');
        identity.rowIds.push(source.identity!.rowIds[row]!);
        identity.paths.push(source.identity!.paths.get(row) ?? '');
      }
    });
    const rescale = this.rescale;
    const tensors = tf.tidy(() => {
      const raw = tf.tensor(x, [n, ...this.rowShape], 'float32');
      return {
        x: rescale === 1 ? raw : tf.mul(raw, rescale),
        y: tf.oneHot(tf.tensor1d(labels, 'int32'), this.classes.length).toFloat() as tf.Tensor2D,
      };
    });
    return { ...tensors, n, labels, ...(identity ? { identity } : {}) };
  }

  /**
   * The epoch's batches (`epoch` counts from 1). Training: record batches in an order drawn
   * from (seed, epoch), rows shuffled within windows of a few record batches; the caller
   * disposes each batch's tensors.
   */
  async *batches(epoch = 1): AsyncGenerator<Batch> {
    const { batchSize, role } = this.options;
    const turn = this.augmentedViews === undefined ? undefined : epoch % this.augmentedViews;
    const rowsOf = ({ rows, turns }: RecordBatchInfo): Int32Array => (turn === undefined || turns === undefined ? rows : rows.filter((_, k) => turns[k] === turn));
    const epochRows = this.infos.map(rowsOf);
    const order = this.infos.map((_, i) => i).filter((i) => epochRows[i]!.length > 0);
    const random = role === 'train' ? createRandom(this.options.seed ?? 0, 'epoch', epoch) : undefined;
    if (random) shuffleInPlace(order, random);
    const window = role === 'train' ? this.shuffleWindow : 1;
    const loaded = new Map<number, LoadedRecordBatch>();
    const reads = new Map<number, Promise<LoadedRecordBatch>>();
    const prefetch = (from: number): void => {
      for (const index of order.slice(from, from + window)) {
        if (reads.has(index)) continue;
        const read = this.load(index);
        read.catch(() => undefined); // awaited below; an abandoned epoch must not leave an unhandled rejection
        reads.set(index, read);
      }
    };
    let pending: number[] = [];
    prefetch(0);
    for (let start = 0; start < order.length; start += window) {
      const indices = order.slice(start, start + window);
      for (const index of indices) {
        loaded.set(index, await reads.get(index)!);
        reads.delete(index);
        for (const row of epochRows[index]!) pending.push(index * ROW_BITS + row);
      }
      prefetch(start + window);
      if (random) shuffleInPlace(pending, random);
      const full = pending.length - (pending.length % batchSize);
      for (let at = 0; at < full; at += batchSize) yield this.makeBatch(pending.slice(at, at + batchSize), loaded);
      pending = pending.slice(full);
      // Keep only the record batches the leftover rows still point into.
      const needed = new Set(pending.map((ref) => Math.floor(ref / ROW_BITS)));
      for (const index of loaded.keys()) if (!needed.has(index)) loaded.delete(index);
    }
    if (pending.length > 0) yield this.makeBatch(pending, loaded);
  }

  async close(): Promise<void> {
    await this.readQueue;
    await this.arrow.close();
  }
}
