import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import polars from 'nodejs-polars';
import { createRandom, memoryLogger, readArrowTable, type Table } from '@flowers/core';
import { createPixelWriter, SPLITS } from '@flowers/core/contracts';
import { fileIOHandler, selectBackend, type SelectedBackend } from '@flowers/core/tf';
import {
  BASES,
  applyLayerWeights,
  buildBase,
  buildFeatureModel,
  computeFeatures,
  prepareExtractor,
  preprocessMobileNetV2,
  produceFeatures,
  readTfjsLayersWeights,
  releaseWarmBase,
  splitAtLayer,
  type FeaturesStageParams,
} from '../src/index.ts';
import { SHARED_MOBILENET as WEIGHTS } from '../../../shared_folder.ts';

const SIZE = 40;
const PIXEL_BYTES = SIZE * SIZE * 3;
const CLASSES = ['daisy', 'dandelion', 'rose', 'sunflower', 'tulip'];
/** Rows per record batch in each test pixel file (uneven on purpose). */
const BATCHES = { train: [6, 5], validation: [4], test: [3, 2] } as const;
/** Where each split's images start among split.arrow's rows. */
const ROW_ID_START = { train: 0, validation: 11, test: 15 } as const;
const CUT = BASES.mobilenet_v2.fineTuneFrom; // block_13_project_BN

// nodejs-polars is pinned to 0.24, the last release whose native binary loads on Node 20.

const tempDir = (): string => mkdtempSync(path.join(os.tmpdir(), 'features-stage-'));
const sha = (split: string, i: number): string => `${split}-${String(i).padStart(3, '0')}`;

/** The pixels of row i of a split: seeded noise, so every row differs. */
function rowPixels(split: string, i: number): Uint8Array {
  const random = createRandom('pixels', split, i);
  return Uint8Array.from({ length: PIXEL_BYTES }, () => random.int(256));
}

/** Writes the pixel files through the augment stage's contract: row i of a split is image `rowIds[split] + i` of split.arrow. */
async function writePixelFiles(dir: string): Promise<void> {
  const meta = { size: SIZE, classes: CLASSES, views: 1, augment: {}, seed: 1, dataDir: '/photos' };
  for (const split of SPLITS) {
    const writer = createPixelWriter(dir, split, meta);
    let row = 0;
    for (const rows of BATCHES[split]) {
      const ids = Array.from({ length: rows }, (_, k) => row + k);
      const pixels = new Uint8Array(rows * PIXEL_BYTES);
      ids.forEach((i, k) => pixels.set(rowPixels(split, i), k * PIXEL_BYTES));
      writer.write(
        ids.map((i) => ({ rowId: ROW_ID_START[split] + i, path: `${CLASSES[i % CLASSES.length]}/${sha(split, i)}.jpg`, sha256: sha(split, i), labelIndex: i % CLASSES.length, split, view: i % 2 })),
        pixels,
      );
      row += rows;
    }
    await writer.close();
  }
}

const PARAMS: FeaturesStageParams = { base: 'mobilenet_v2', alpha: 0.35, pool: 'avg', weights: WEIGHTS, cut: CUT, batchSize: 4 };

async function run(augmentDir: string, params: Partial<FeaturesStageParams>, workers: number): Promise<string> {
  const out = tempDir();
  await produceFeatures(out, augmentDir, { ...PARAMS, ...params }, { workers, backend: cpu, log: memoryLogger() });
  return out;
}

/** Row r's features as a plain array. */
function rowFeatures(table: Table, r: number): number[] {
  return Array.from(table.getChild('features')!.get(r)!.toArray() as Float32Array);
}

function allFeatures(table: Table): Float32Array {
  const out: number[] = [];
  for (let r = 0; r < table.numRows; r++) out.push(...rowFeatures(table, r));
  return Float32Array.from(out);
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
};

let pixelsDir: string;
let oneWorker: string;
let twoWorkers: string;
let unpooled: string;
let cpu: SelectedBackend;

beforeAll(async () => {
  cpu = await selectBackend('cpu');
  pixelsDir = tempDir();
  await writePixelFiles(pixelsDir);
  oneWorker = await run(pixelsDir, {}, 1);
  twoWorkers = await run(pixelsDir, {}, 2);
  unpooled = await run(pixelsDir, { pool: 'none', cut: undefined }, 2);
});

describe('produceFeatures', () => {
  it('writes one features file per split with the rows, columns and metadata of the pixel files', async () => {
    expect(readdirSync(oneWorker).sort()).toEqual(['cut', 'test.arrow', 'test.index.arrow', 'train.arrow', 'train.index.arrow', 'validation.arrow', 'validation.index.arrow']);
    for (const [split, batches] of Object.entries(BATCHES)) {
      const table = await readArrowTable(path.join(oneWorker, `${split}.arrow`));
      const rows = batches.reduce((a, b) => a + b, 0);
      expect(table.numRows).toBe(rows);
      expect(table.schema.fields.map((f) => f.name)).toEqual(['sha256', 'label_index', 'split', 'view', 'row_id', 'path', 'features']);
      expect(Array.from(table.getChild('row_id')!.toArray() as Int32Array)).toEqual(Array.from({ length: rows }, (_, i) => ROW_ID_START[split as keyof typeof ROW_ID_START] + i));
      expect(table.getChild('path')!.get(1)).toBe(`dandelion/${sha(split, 1)}.jpg`);
      expect(table.getChild('sha256')!.toArray()).toEqual(Array.from({ length: rows }, (_, i) => sha(split, i)));
      expect(Array.from(table.getChild('label_index')!.toArray() as Int32Array)).toEqual(Array.from({ length: rows }, (_, i) => i % 5));
      expect(Array.from(table.getChild('view')!.toArray() as Int32Array)).toEqual(Array.from({ length: rows }, (_, i) => i % 2));
      expect(table.getChild('split')!.get(0)).toBe(split);
      const meta = Object.fromEntries(table.schema.metadata);
      expect(meta).toMatchObject({
        base: 'mobilenet_v2',
        alpha: '0.35',
        weights_source: WEIGHTS,
        input_size: '40',
        layer: 'out_relu',
        feature_shape: '[1280]',
        backend: 'cpu',
        classes: JSON.stringify(CLASSES),
        pool: 'avg',
        data_dir: '/photos',
        schema_version: '2',
      });
      expect(meta.weights_sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(rowFeatures(table, 0)).toHaveLength(1280);
    }
  });

  it('gives the same features, bit for bit, with 1 and 2 workers', async () => {
    for (const split of Object.keys(BATCHES)) {
      for (const dir of ['', 'cut']) {
        const a = allFeatures(await readArrowTable(path.join(oneWorker, dir, `${split}.arrow`)));
        const b = allFeatures(await readArrowTable(path.join(twoWorkers, dir, `${split}.arrow`)));
        expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
      }
    }
  });

  it("gives each row the base's globally averaged output for that image alone", async () => {
    const table = await readArrowTable(path.join(oneWorker, 'train.arrow'));
    const model = buildBase('mobilenet_v2', { alpha: 0.35, inputSize: SIZE });
    applyLayerWeights(model, await readTfjsLayersWeights(WEIGHTS), WEIGHTS);
    for (const row of [0, 7, 10]) {
      const expected = tf.tidy(() => {
        const image = tf.tensor4d(rowPixels('train', row), [1, SIZE, SIZE, 3], 'int32');
        return Array.from(tf.mean(model.predict(preprocessMobileNetV2(image)) as tf.Tensor, [1, 2]).dataSync());
      });
      expect(Math.max(...expected)).toBeGreaterThan(0.1); // real, varying ReLU6 features
      expect(maxAbsDiff(rowFeatures(table, row), expected)).toBeLessThan(1e-4);
    }
  });

  it("with pool 'none' keeps the whole 2x2x1280 map, whose mean is the pooled feature", async () => {
    const none = await readArrowTable(path.join(unpooled, 'validation.arrow'));
    const avg = await readArrowTable(path.join(oneWorker, 'validation.arrow'));
    expect(none.schema.metadata.get('feature_shape')).toBe('[2,2,1280]');
    expect(none.schema.metadata.get('pool')).toBe('none');
    expect(readdirSync(unpooled)).not.toContain('cut');
    const map = rowFeatures(none, 1);
    expect(map).toHaveLength(2 * 2 * 1280);
    const mean = Array.from({ length: 1280 }, (_, c) => (map[c]! + map[1280 + c]! + map[2560 + c]! + map[3840 + c]!) / 4);
    expect(maxAbsDiff(mean, rowFeatures(avg, 1))).toBeLessThan(1e-5);
  });

  it('writes the cut layer activations, from which the top of the base gives the features', async () => {
    const cut = await readArrowTable(path.join(oneWorker, 'cut', 'test.arrow'));
    const features = await readArrowTable(path.join(oneWorker, 'test.arrow'));
    expect(cut.numRows).toBe(5);
    expect(cut.getChild('sha256')!.toArray()).toEqual(features.getChild('sha256')!.toArray());
    expect(cut.getChild('row_id')!.toArray()).toEqual(features.getChild('row_id')!.toArray());
    expect(readdirSync(path.join(oneWorker, 'cut')).sort()).toEqual(['test.arrow', 'test.index.arrow', 'top', 'train.arrow', 'train.index.arrow', 'validation.arrow', 'validation.index.arrow']);
    // block_13 halves 3x3 to 2x2; 160 * 0.35 channels rounded to a multiple of 8.
    expect(cut.schema.metadata.get('feature_shape')).toBe('[2,2,56]');
    expect(cut.schema.metadata.get('layer')).toBe(CUT);
    const model = buildBase('mobilenet_v2', { alpha: 0.35, inputSize: SIZE });
    applyLayerWeights(model, await readTfjsLayersWeights(WEIGHTS), WEIGHTS);
    const { top } = splitAtLayer(model, CUT);
    const fromCut = tf.tidy(() =>
      Array.from(tf.mean(top.predict(tf.tensor4d(rowFeatures(cut, 4), [1, 2, 2, 56])) as tf.Tensor, [1, 2]).dataSync()),
    );
    expect(maxAbsDiff(fromCut, rowFeatures(features, 4))).toBeLessThan(1e-4);
  });

  it('kept warm (a queue worker), prepares the base once for shards of one artifact and again for other params, with the same files', async () => {
    const log = memoryLogger();
    const warmRun = async (params: Partial<FeaturesStageParams>, batches: { start: number; end: number }) => {
      const out = tempDir();
      const result = await produceFeatures(out, pixelsDir, { ...PARAMS, ...params }, { workers: 2, backend: cpu, log, batches, keepWarm: true });
      return { out, result };
    };
    try {
      const first = await warmRun({}, { start: 0, end: 2 });
      const second = await warmRun({}, { start: 2, end: 5 });
      const other = await warmRun({ pool: 'none', cut: undefined }, { start: 0, end: 5 });
      expect(log.lines.filter((line) => line.includes('the base kept from the last shard'))).toHaveLength(1);
      expect(first.result.timings!.weights_s).toBeGreaterThan(0);
      expect(second.result.timings!.weights_s).toBe(0);
      expect(other.result.timings!.weights_s).toBeGreaterThan(0);
      // The shards (the train batches, then the validation and test ones) hold what one cold run wrote; the kept base also saved its top.
      for (const sub of ['', 'cut']) {
        for (const split of Object.keys(BATCHES)) {
          const rows = async (dir: string) => Array.from(allFeatures(await readArrowTable(path.join(dir, sub, `${split}.arrow`))));
          expect([...(await rows(first.out)), ...(await rows(second.out))], `${sub}/${split}`).toEqual(await rows(oneWorker));
        }
      }
      expect(readFileSync(path.join(second.out, 'cut', 'top', 'model.json'), 'utf8')).toBe(readFileSync(path.join(oneWorker, 'cut', 'top', 'model.json'), 'utf8'));
      expect(Array.from(allFeatures(await readArrowTable(path.join(other.out, 'train.arrow'))))).toEqual(Array.from(allFeatures(await readArrowTable(path.join(unpooled, 'train.arrow')))));
    } finally {
      await releaseWarmBase();
    }
  });

  it('opens in another Arrow reader (polars)', () => {
    // From bytes: polars 0.24 reading from a path rejects every IPC file footer, apache-arrow's too.
    const frame = polars.readIPC(readFileSync(path.join(oneWorker, 'train.arrow')));
    expect(frame.height).toBe(11);
    expect(frame.columns).toEqual(['sha256', 'label_index', 'split', 'view', 'row_id', 'path', 'features']);
  });
});

describe('the per-batch features job', () => {
  it('frees every tensor it makes, batch after batch', async () => {
    const featureModel = buildFeatureModel({ base: 'mobilenet_v2', alpha: 0.35, inputSize: SIZE, pool: 'avg', cut: CUT });
    applyLayerWeights(featureModel.base, await readTfjsLayersWeights(WEIGHTS), WEIGHTS);
    const pixels = new Uint8Array(5 * PIXEL_BYTES);
    for (let i = 0; i < 5; i++) pixels.set(rowPixels('validation', i), i * PIXEL_BYTES);
    const extractor = prepareExtractor(featureModel);
    const first = computeFeatures(extractor, pixels, 5, 2);
    expect(first.features).toHaveLength(5 * 1280);
    expect(first.cut).toHaveLength(5 * 2 * 2 * 56);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 6; i++) computeFeatures(extractor, pixels, 5, 2);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('bad input', () => {
  it('names the layer of a weights file for another architecture, and leaves no feature file', async () => {
    const weightsDir = tempDir();
    const input = tf.input({ shape: [SIZE, SIZE, 3] });
    // Same first layer name as MobileNetV2, but 8 filters where alpha 0.35 has 16.
    const conv = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, useBias: false, name: 'Conv1' }).apply(input) as tf.SymbolicTensor;
    await tf.model({ inputs: input, outputs: conv }).save(fileIOHandler(weightsDir));
    const out = tempDir();
    const weights = path.join(weightsDir, 'model.json');
    await expect(produceFeatures(out, pixelsDir, { ...PARAMS, weights }, { workers: 2, backend: cpu, log: memoryLogger() })).rejects.toThrow(
      new RegExp(`${weights}, layer 'Conv1': shapes \\[\\[3,3,3,8\\]\\] do not fit the model's \\[\\[3,3,3,16\\]\\]`),
    );
    expect(readdirSync(out, { recursive: true })).toEqual([]);
  });

  it('names a missing weights path', async () => {
    const missing = path.join(tempDir(), 'nowhere', 'model.json');
    const out = tempDir();
    await expect(produceFeatures(out, pixelsDir, { ...PARAMS, weights: missing }, { workers: 1, backend: cpu, log: memoryLogger() })).rejects.toThrow(
      `cannot read TF.js model file: ${missing}`,
    );
    expect(readdirSync(out)).toEqual([]);
  });

  it('refuses images smaller than the base accepts, before loading any weights', async () => {
    const log = memoryLogger();
    await expect(produceFeatures(tempDir(), pixelsDir, { ...PARAMS, base: 'inception_v3', weights: 'nsfwjs-inception', cut: undefined }, { workers: 1, backend: cpu, log })).rejects.toThrow(
      `inception_v3 needs images of at least 75 px, but the pixel files in ${pixelsDir} are 40 px`,
    );
    expect(log.lines).toEqual([]);
  });

  it('names an unknown cut layer', async () => {
    await expect(produceFeatures(tempDir(), pixelsDir, { ...PARAMS, cut: 'mixed8' }, { workers: 1, backend: cpu, log: memoryLogger() })).rejects.toThrow(
      "--cut: mobilenet_v2 has no layer 'mixed8'",
    );
  });

  it('names a missing pixel file', async () => {
    const empty = tempDir();
    await expect(produceFeatures(tempDir(), empty, PARAMS, { workers: 1, backend: cpu, log: memoryLogger() })).rejects.toThrow(
      `no pixel file ${path.join(empty, 'train.arrow')}`,
    );
  });
});

describe('on the onnx engine', () => {
  it('writes the same rows with features and cut activations within 1e-4 of TensorFlow.js, and names the engine', async () => {
    const out = tempDir();
    const log = memoryLogger();
    const result = await produceFeatures(out, pixelsDir, PARAMS, { workers: 2, threads: 2, backend: await selectBackend('onnx'), cacheDir: tempDir(), log });
    expect(result.backend).toBe('onnx-cpu');
    expect(result.versions).toMatchObject({ onnxruntime: '1.30.0' });
    // MobileNetV2 runs as one single-threaded session per thread.
    expect(result.extra).toMatchObject({ workers: 2, onnx_threads_per_session: 1 });
    expect(log.lines).toContain('features: 2 ONNX Runtime session(s) of 1 thread(s)');
    for (const split of Object.keys(BATCHES)) {
      for (const dir of ['', 'cut']) {
        const onnx = await readArrowTable(path.join(out, dir, `${split}.arrow`));
        const cpu = await readArrowTable(path.join(oneWorker, dir, `${split}.arrow`));
        expect(onnx.getChild('sha256')!.toArray()).toEqual(cpu.getChild('sha256')!.toArray());
        expect(onnx.schema.metadata.get('backend')).toBe('onnx-cpu');
        const [a, b] = [allFeatures(onnx), allFeatures(cpu)];
        expect(maxAbsDiff(a, b) / b.reduce((m, v) => Math.max(m, Math.abs(v)), 0)).toBeLessThan(1e-4);
      }
    }
    await selectBackend('cpu');
  });
});
