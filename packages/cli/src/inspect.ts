import { stat } from 'node:fs/promises';
import { DataType, openArrowFile, UserError, type Field, type RecordBatch } from '@flowers/core';

interface NumericSummary {
  min: number;
  mean: number;
  max: number;
}

export interface InspectSummary {
  file: string;
  rows: number;
  batches: number;
  schema: Array<{ name: string; type: string; nullable: boolean }>;
  metadata: Record<string, string>;
  splits: Record<string, number>;
  classes: Record<string, number>;
  numeric: Record<string, NumericSummary>;
  head: Array<Record<string, unknown>>;
}

function accumulate(summary: Map<string, { min: number; max: number; sum: number; n: number }>, name: string, values: ArrayLike<number>): void {
  const s = summary.get(name) ?? { min: Infinity, max: -Infinity, sum: 0, n: 0 };
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < s.min) s.min = v;
    if (v > s.max) s.max = v;
    s.sum += v;
  }
  s.n += values.length;
  summary.set(name, s);
}

/** Flat numeric values of a column (list columns contribute their items). */
function numericValues(batch: RecordBatch, field: Field): ArrayLike<number> | undefined {
  const column = batch.getChild(field.name)!;
  const data = column.data[0];
  if (!data) return undefined;
  if (DataType.isInt(field.type) || DataType.isFloat(field.type)) return column.toArray() as ArrayLike<number>;
  if (DataType.isFixedSizeList(field.type)) {
    const child = data.children[0]!;
    const size = field.type.listSize;
    const values = child.values as ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> };
    const start = child.offset + data.offset * size;
    return values.subarray(start, start + data.length * size);
  }
  return undefined;
}

function preview(value: unknown): unknown {
  if (value && typeof value === 'object' && 'toArray' in value) {
    const items = Array.from((value as { toArray(): ArrayLike<number> }).toArray());
    return items.length > 6 ? `[${items.slice(0, 6).map((v) => (Number.isInteger(v) ? v : Number(v).toFixed(4))).join(', ')}, ... (${items.length})]` : items;
  }
  return typeof value === 'bigint' ? Number(value) : value;
}

/** Streams an Arrow file once: counts, per-split and per-class counts, numeric ranges, first rows. */
export async function inspectArrowFile(file: string, headRows = 5): Promise<InspectSummary> {
  if (!(await stat(file).then((s) => s.isFile(), () => false))) throw new UserError(`no such file: ${file}`);
  let arrow;
  try {
    arrow = await openArrowFile(file);
  } catch (error) {
    throw new UserError(`${file} is not an Arrow IPC file (${(error as Error).message.split('\n')[0]})`);
  }
  const summary: InspectSummary = {
    file,
    rows: 0,
    batches: arrow.numBatches,
    schema: arrow.schema.fields.map((f) => ({ name: f.name, type: String(f.type), nullable: f.nullable })),
    metadata: Object.fromEntries(arrow.schema.metadata),
    splits: {},
    classes: {},
    numeric: {},
    head: [],
  };
  let classNames: string[] | undefined;
  try {
    classNames = JSON.parse(arrow.schema.metadata.get('classes') ?? 'null') ?? undefined;
  } catch {
    classNames = undefined;
  }
  const ranges = new Map<string, { min: number; max: number; sum: number; n: number }>();
  try {
    for await (const batch of arrow.batches()) {
      summary.rows += batch.numRows;
      const splits = batch.getChild('split')?.toArray() as string[] | undefined;
      const labels = (batch.getChild('label') ?? batch.getChild('label_index'))?.toArray() as ArrayLike<string | number> | undefined;
      for (let i = 0; i < batch.numRows; i++) {
        if (splits) summary.splits[splits[i]!] = (summary.splits[splits[i]!] ?? 0) + 1;
        if (labels) {
          const raw = labels[i]!;
          const name = typeof raw === 'number' && classNames ? (classNames[raw] ?? String(raw)) : String(raw);
          summary.classes[name] = (summary.classes[name] ?? 0) + 1;
        }
      }
      for (const field of arrow.schema.fields) {
        const values = numericValues(batch, field);
        if (values) accumulate(ranges, field.name, values);
      }
      for (let i = 0; i < batch.numRows && summary.head.length < headRows; i++) {
        const row = batch.get(i)!.toJSON() as Record<string, unknown>;
        summary.head.push(Object.fromEntries(Object.entries(row).map(([k, v]) => [k, preview(v)])));
      }
    }
  } finally {
    await arrow.close();
  }
  for (const [name, r] of ranges) summary.numeric[name] = { min: r.min, mean: r.n ? r.sum / r.n : NaN, max: r.max };
  return summary;
}

export function formatInspectSummary(s: InspectSummary): string {
  const lines = [`${s.file}`, `rows: ${s.rows} in ${s.batches} record batch(es)`, 'schema:'];
  for (const f of s.schema) lines.push(`  ${f.name}: ${f.type}${f.nullable ? ' (nullable)' : ''}`);
  if (Object.keys(s.metadata).length) {
    lines.push('metadata:');
    for (const [k, v] of Object.entries(s.metadata)) lines.push(`  ${k}: ${v.length > 200 ? `${v.slice(0, 200)}...` : v}`);
  }
  if (Object.keys(s.splits).length) lines.push(`per split: ${Object.entries(s.splits).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (Object.keys(s.classes).length) lines.push(`per class: ${Object.entries(s.classes).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (Object.keys(s.numeric).length) {
    lines.push('numeric columns (min / mean / max):');
    for (const [k, v] of Object.entries(s.numeric)) lines.push(`  ${k}: ${fmt(v.min)} / ${fmt(v.mean)} / ${fmt(v.max)}`);
  }
  lines.push(`first ${s.head.length} row(s):`);
  for (const row of s.head) lines.push(`  ${JSON.stringify(row)}`);
  return lines.join('\n');
}

const fmt = (x: number): string => (Number.isInteger(x) ? String(x) : x.toPrecision(5));
