import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { canonicalJson, formatBytes, sha256File, sha256Hex, writeFileAtomic, type Logger } from '@flowers/core';
import type { FeatureModel } from '../feature_model.ts';
import { defaultCacheDir } from '../weights/download.ts';
import { exportFeatureGraph } from './export.ts';
import { ONNX_OPSET } from '@flowers/core/onnx';

/** Everything an exported graph depends on: change any of these and the graph is built anew. */
export interface FeatureGraphKey {
  weightsSha256: string;
  /** The features package's source hash: the exporter, the fusion plan and the models. */
  exporterVersion: string;
  onnxruntimeVersion: string;
}

export interface CachedGraph {
  file: string;
  sha256: string;
}

/**
 * The feature model's ONNX graph from the weights cache, exported and stored there on first use
 * (InceptionV3's takes a few seconds and 87 MB). A checksum file beside the graph, written after
 * it, tells a complete graph from a truncated or damaged one, which is rebuilt with a note.
 */
export async function cachedFeatureGraph(
  featureModel: FeatureModel,
  key: FeatureGraphKey,
  { cacheDir = defaultCacheDir(), log }: { cacheDir?: string | undefined; log?: Logger | undefined },
): Promise<CachedGraph> {
  const { spec } = featureModel;
  const id = sha256Hex(canonicalJson({ ...key, spec, opset: ONNX_OPSET })).slice(0, 24);
  const file = path.join(cacheDir, 'onnx', `${spec.base}-${id}.onnx`);
  const checksumFile = `${file}.sha256`;
  const expected = await readFile(checksumFile, 'utf8').then((text) => text.trim(), () => undefined);
  if (expected !== undefined) {
    const actual = await sha256File(file).catch(() => undefined);
    if (actual === expected) return { file, sha256: actual };
    log?.warn(`cached ONNX graph ${file} is ${actual === undefined ? 'missing' : 'damaged (checksum mismatch)'}; rebuilding it`);
  }
  const graph = exportFeatureGraph(featureModel);
  const sha256 = sha256Hex(graph);
  await writeFileAtomic(file, graph);
  await writeFileAtomic(checksumFile, `${sha256}\n`);
  log?.info(`ONNX graph: exported ${spec.base} (${formatBytes((await stat(file)).size)}) to ${file}`);
  return { file, sha256 };
}
