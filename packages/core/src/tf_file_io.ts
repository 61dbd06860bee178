import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from './atomic.ts';
import { UserError } from './errors.ts';

const WEIGHTS_FILE = 'weights.bin';

/** `dir` or `dir/model.json` (any name ending in .json) to the model.json path. */
function modelJsonPathOf(modelJsonPathOrDir: string): string {
  return modelJsonPathOrDir.endsWith('.json') ? modelJsonPathOrDir : path.join(modelJsonPathOrDir, 'model.json');
}

async function readOrExplain(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new UserError(`cannot read ${what}: ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}

/** A copy of exactly the bytes of a Node Buffer (small Buffers share one pooled ArrayBuffer). */
function ownArrayBuffer(bytes: Buffer): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/**
 * A TF.js IOHandler over the local file system for plain @tensorflow/tfjs (whose `file://`
 * handler exists only in tfjs-node). `load` reads model.json and the weight shards its
 * manifest names (paths relative to model.json; quantized shards decode like any other);
 * `save` writes model.json and one weights.bin, each through a temporary file and a rename,
 * weights first, so an interrupted save never leaves a model.json pointing at partial weights.
 */
export function fileIOHandler(modelJsonPathOrDir: string): Required<Pick<tf.io.IOHandler, 'load' | 'save'>> {
  const modelJsonPath = modelJsonPathOf(modelJsonPathOrDir);
  const dir = path.dirname(modelJsonPath);
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const text = (await readOrExplain(modelJsonPath, 'TF.js model file')).toString('utf8');
      let modelJson: tf.io.ModelJSON;
      try {
        modelJson = JSON.parse(text) as tf.io.ModelJSON;
      } catch (error) {
        throw new UserError(`TF.js model file ${modelJsonPath} is not valid JSON: ${(error as Error).message}`);
      }
      if (modelJson.modelTopology == null) throw new UserError(`TF.js model file ${modelJsonPath} has no modelTopology`);
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs = manifest.flatMap((group) => group.weights);
        const shards = await Promise.all(
          manifest.flatMap((group) => group.paths).map((shard) => readOrExplain(path.resolve(dir, shard), `weight shard listed in ${modelJsonPath}`)),
        );
        return [specs, shards.map(ownArrayBuffer)];
      });
    },

    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      // Everything but the weights themselves goes into model.json as is.
      const { modelTopology, weightData, weightSpecs, getWeightStream: _stream, ...rest } = artifacts;
      if (modelTopology == null || modelTopology instanceof ArrayBuffer) {
        throw new Error(`cannot save to ${modelJsonPath}: only layers models with a JSON topology are supported`);
      }
      const weights = weightData === undefined ? new ArrayBuffer(0) : new tf.io.CompositeArrayBuffer(weightData).slice();
      const modelJson: tf.io.ModelJSON = {
        ...rest,
        modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: weightSpecs ?? [] }],
      };
      await writeFileAtomic(path.join(dir, WEIGHTS_FILE), new Uint8Array(weights));
      await writeFileAtomic(modelJsonPath, JSON.stringify(modelJson));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}
