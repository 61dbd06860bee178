/**
 * The ingest stage's output: `split.arrow`, one row per kept image (its path relative to the data
 * folder, content hash, class and split), and `classes.json`, the class names in label order.
 * A row's index in split.arrow is the image's row id, which every later file carries.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ArrowFileSink, Field, Int32, Schema, Utf8, int32Column, makeRecordBatch, readArrowTable, utf8Column } from '../arrow_io.ts';
import { UserError } from '../errors.ts';
import { checkSchemaVersion, schemaVersionEntries, SCHEMA_VERSION_KEY } from './schema_version.ts';

export const SPLITS = ['train', 'validation', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];

export const SPLIT_FILE = 'split.arrow';
export const CLASSES_FILE = 'classes.json';
export const SPLIT_SCHEMA_VERSION = 1;

export interface SplitRow {
  /** Relative to the split's dataDir, '/'-separated. */
  path: string;
  sha256: string;
  label: string;
  labelIndex: number;
  split: SplitName;
  width: number;
  height: number;
  channels: number;
}

export interface SplitFile {
  /** Absolute path of the data folder the rows' paths are relative to. */
  dataDir: string;
  classes: string[];
  seed: number;
  fractions: [number, number, number];
  rows: SplitRow[];
}

const SPLIT_FIELDS = [
  new Field('path', new Utf8(), false),
  new Field('sha256', new Utf8(), false),
  new Field('label', new Utf8(), false),
  new Field('label_index', new Int32(), false),
  new Field('split', new Utf8(), false),
  new Field('width', new Int32(), false),
  new Field('height', new Int32(), false),
  new Field('channels', new Int32(), false),
];

/** Writes split.arrow and classes.json into `dir`. */
export async function writeSplit(dir: string, split: SplitFile): Promise<void> {
  const metadata = new Map([
    ['classes', JSON.stringify(split.classes)],
    ['data_dir', split.dataDir],
    ['seed', String(split.seed)],
    ['split_fractions', split.fractions.join(',')],
    ...schemaVersionEntries(SPLIT_SCHEMA_VERSION),
  ]);
  const schema = new Schema(SPLIT_FIELDS, metadata);
  const { rows } = split;
  const sink = new ArrowFileSink(path.join(dir, SPLIT_FILE), schema);
  try {
    sink.write(
      makeRecordBatch(schema, [
        utf8Column(rows.map((r) => r.path)),
        utf8Column(rows.map((r) => r.sha256)),
        utf8Column(rows.map((r) => r.label)),
        int32Column(Int32Array.from(rows, (r) => r.labelIndex)),
        utf8Column(rows.map((r) => r.split)),
        int32Column(Int32Array.from(rows, (r) => r.width)),
        int32Column(Int32Array.from(rows, (r) => r.height)),
        int32Column(Int32Array.from(rows, (r) => r.channels)),
      ]),
    );
    await sink.close();
  } catch (error) {
    await sink.abort();
    throw error;
  }
  await writeFile(path.join(dir, CLASSES_FILE), `${JSON.stringify(split.classes, null, 2)}\n`);
}

/** Reads split.arrow (the file itself, not its folder). */
export async function readSplitFile(file: string): Promise<SplitFile> {
  const table = await readArrowTable(file);
  const meta = table.schema.metadata;
  checkSchemaVersion(file, 'split', meta.get(SCHEMA_VERSION_KEY), SPLIT_SCHEMA_VERSION);
  const column = <T>(name: string): T[] => {
    const vector = table.getChild(name);
    if (!vector) throw new UserError(`${file}: split file has no '${name}' column`);
    return vector.toArray() as T[];
  };
  const paths = column<string>('path');
  const shas = column<string>('sha256');
  const labels = column<string>('label');
  const labelIndex = column<number>('label_index');
  const splits = column<SplitName>('split');
  const widths = column<number>('width');
  const heights = column<number>('height');
  const channels = column<number>('channels');
  return {
    dataDir: meta.get('data_dir')!,
    classes: JSON.parse(meta.get('classes')!) as string[],
    seed: Number(meta.get('seed')),
    fractions: meta.get('split_fractions')!.split(',').map(Number) as [number, number, number],
    rows: paths.map((p, i) => ({
      path: p,
      sha256: shas[i]!,
      label: labels[i]!,
      labelIndex: labelIndex[i]!,
      split: splits[i]!,
      width: widths[i]!,
      height: heights[i]!,
      channels: channels[i]!,
    })),
  };
}
