/**
 * The train stage's `predictions.arrow`: one row per test image (view 0), in test-file order,
 * with its identity (row id and path in split.arrow, sha256, label) and the model's class
 * probabilities.
 */
import { Field, Int32, Schema, Utf8, ArrowFileSink, fixedSizeListColumn, fixedSizeListField, int32Column, makeRecordBatch, readArrowTable, utf8Column } from '../arrow_io.ts';
import { UserError } from '../errors.ts';
import { checkSchemaVersion, schemaVersionEntries, SCHEMA_VERSION_KEY } from './schema_version.ts';

export const PREDICTIONS_FILE = 'predictions.arrow';
/** Version 2 added each row's row_id and path, and the data_dir metadata. */
export const PREDICTIONS_SCHEMA_VERSION = 2;

export interface Predictions {
  classes: string[];
  /** The data folder the paths are relative to. */
  dataDir: string;
  sha256: string[];
  /** Rows in split.arrow. */
  rowIds: Int32Array;
  paths: string[];
  labels: Int32Array;
  /** Row-major [rows, classes]. */
  probabilities: Float32Array;
}

/** The probabilities as one list per row. */
export function probabilityRows({ classes, probabilities }: Pick<Predictions, 'classes' | 'probabilities'>): number[][] {
  return Array.from({ length: probabilities.length / classes.length }, (_, i) => Array.from(probabilities.subarray(i * classes.length, (i + 1) * classes.length)));
}

export async function writePredictions(file: string, predictions: Predictions): Promise<void> {
  const { classes } = predictions;
  const schema = new Schema(
    [
      new Field('sha256', new Utf8(), false),
      new Field('label_index', new Int32(), false),
      new Field('row_id', new Int32(), false),
      new Field('path', new Utf8(), false),
      fixedSizeListField('probabilities', classes.length, 'float32'),
    ],
    new Map([['classes', JSON.stringify(classes)], ['data_dir', predictions.dataDir], ...schemaVersionEntries(PREDICTIONS_SCHEMA_VERSION)]),
  );
  const sink = new ArrowFileSink(file, schema);
  try {
    sink.write(
      makeRecordBatch(schema, [
        utf8Column(predictions.sha256),
        int32Column(predictions.labels),
        int32Column(predictions.rowIds),
        utf8Column(predictions.paths),
        fixedSizeListColumn(predictions.probabilities, classes.length),
      ]),
    );
    await sink.close();
  } catch (error) {
    await sink.abort();
    throw error;
  }
}

export async function readPredictions(file: string): Promise<Predictions> {
  const table = await readArrowTable(file);
  const meta = table.schema.metadata;
  checkSchemaVersion(file, 'predictions', meta.get(SCHEMA_VERSION_KEY), PREDICTIONS_SCHEMA_VERSION);
  const column = (name: string) => {
    const vector = table.getChild(name);
    if (!vector) throw new UserError(`${file}: predictions file has no '${name}' column`);
    return vector;
  };
  const classes = JSON.parse(meta.get('classes') ?? '[]') as string[];
  const probabilities = new Float32Array(table.numRows * classes.length);
  let row = 0;
  for (const data of column('probabilities').data) {
    const child = data.children[0]!;
    const start = child.offset + data.offset * classes.length;
    probabilities.set((child.values as Float32Array).subarray(start, start + data.length * classes.length), row * classes.length);
    row += data.length;
  }
  return {
    classes,
    dataDir: meta.get('data_dir') ?? '',
    sha256: column('sha256').toArray() as string[],
    rowIds: Int32Array.from(column('row_id').toArray() as Int32Array),
    paths: column('path').toArray() as string[],
    labels: Int32Array.from(column('label_index').toArray() as Int32Array),
    probabilities,
  };
}
