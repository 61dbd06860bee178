import type { EncodedWeights, FeatureModelSpec } from '../feature_model.ts';
import type { OnnxExecutionProvider } from '@flowers/core/onnx';

/** One batch's output: every row's features, then (with a cut) every row's cut activations. */
export interface FeatureRows {
  features: Float32Array;
  cut?: Float32Array;
}

/** A pretrained base, ready to run on one engine. */
export interface BaseRunner {
  /** `rows` images, HWC RGB uint8, one after another. */
  run(pixels: Uint8Array, rows: number): Promise<FeatureRows>;
  dispose(): void;
}

/** What a thread needs to load a base on the TensorFlow.js engine: the weights, encoded once by the parent. */
export interface TfjsEngineData {
  engine: 'tfjs';
  backend: 'tensorflow' | 'wasm' | 'cpu';
  spec: FeatureModelSpec;
  batchSize: number;
  weights: EncodedWeights;
}

/** What a thread needs to load a base on ONNX Runtime: the exported graph file. */
export interface OnnxEngineData {
  engine: 'onnx';
  executionProvider: OnnxExecutionProvider;
  /** ONNX Runtime's intra-op threads for this session. */
  threads: number;
  spec: FeatureModelSpec;
  batchSize: number;
  graphFile: string;
}

/** Plain data (it crosses to worker threads): which engine, and what it loads from. */
export type EngineData = TfjsEngineData | OnnxEngineData;
