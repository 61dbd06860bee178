import type { MetricsJson } from '@flowers/core/contracts';

/** Everything a run report shows, gathered from the run's artifacts by the report stage. */
export interface RunReportData {
  run: string;
  experiment: string;
  createdAt: string;
  classes: string[];
  splitCounts: Array<{ split: 'train' | 'validation' | 'test'; label: string; count: number }>;
  ingest: { skipped: Array<{ path: string; reason: string }>; duplicates: Array<{ kept: string; dropped: string[] }> };
  /** Grid of one image and its augmented views. */
  augmentPreviewPng?: Uint8Array;
  history: Array<{ epoch: number; loss: number; accuracy: number; val_loss: number; val_accuracy: number; lr?: number; seconds?: number; phase?: 'head' | 'finetune' }>;
  bestEpoch?: number;
  /** The test split's metrics as the train stage wrote them. */
  metrics: MetricsJson;
  /** The test predictions, for the misclassified gallery; paths are absolute, to load thumbnails. */
  test: { yTrue: number[]; probabilities: number[][]; paths: string[] };
  stages: Array<{
    stage: string;
    key: string;
    params: unknown;
    backend?: string;
    versions?: Record<string, string>;
    timings?: Record<string, number>;
    inputs?: Record<string, string>;
    outputs?: Array<{ file: string; bytes: number; sha256: string }>;
  }>;
}

/** One row of the runs comparison. */
export interface ComparedRun {
  run: string;
  experiment: string;
  accuracy: number;
  macroF1: number;
  epochs: number;
  wallSeconds: number;
  history: RunReportData['history'];
}
