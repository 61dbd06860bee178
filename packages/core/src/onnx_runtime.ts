import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type * as Ort from 'onnxruntime-node';

export type OrtModule = typeof Ort;
export const ONNX_EXECUTION_PROVIDERS = ['cpu', 'cuda'] as const;
export type OnnxExecutionProvider = (typeof ONNX_EXECUTION_PROVIDERS)[number];

export interface OnnxRuntime {
  ort: OrtModule;
  /** onnxruntime-node's version, part of every cache key that ONNX Runtime computes. */
  version: string;
  executionProvider: OnnxExecutionProvider;
  /** Why this execution provider, for the log. */
  providerReason: string;
}

const require = createRequire(import.meta.url);

/** A CUDA device that a GPU build could use (the same test as for tfjs-node-gpu). */
export function hasCudaDevice(): boolean {
  return existsSync('/dev/nvidia0') || existsSync('/proc/driver/nvidia/version');
}

/**
 * The CUDA provider library sits beside the CPU one only where the package's install script
 * could download it (an online install that allowed it to run); the npm package lacks it.
 */
function cudaProviderFile(): string {
  const packageDir = path.dirname(require.resolve('onnxruntime-node/package.json'));
  return path.join(packageDir, 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so');
}

function chooseProvider(): { executionProvider: OnnxExecutionProvider; providerReason: string } {
  if (!hasCudaDevice()) return { executionProvider: 'cpu', providerReason: 'no CUDA device' };
  if (!existsSync(cudaProviderFile())) {
    return { executionProvider: 'cpu', providerReason: 'a CUDA device exists, but the CUDA provider is not installed (see README: ONNX Runtime on a GPU)' };
  }
  return { executionProvider: 'cuda', providerReason: 'CUDA device and CUDA provider found' };
}

function firstLine(error: unknown): string {
  return String(error instanceof Error ? error.message : error).split('\n')[0]!.trim();
}

let loading: Promise<OnnxRuntime> | undefined;

/**
 * Loads onnxruntime-node once per thread. Its import loads the native library, so a missing or
 * broken library fails here, with the cause.
 */
export function loadOnnxRuntime(): Promise<OnnxRuntime> {
  loading ??= (async () => {
    let ort: OrtModule;
    try {
      ort = (await import('onnxruntime-node')) as OrtModule;
    } catch (error) {
      loading = undefined;
      const code = (error as NodeJS.ErrnoException).code;
      throw new Error(code === 'ERR_MODULE_NOT_FOUND' ? 'onnxruntime-node is not installed' : `onnxruntime-node cannot load: ${firstLine(error)}`);
    }
    return { ort, version: ort.env.versions.node ?? 'unknown', ...chooseProvider() };
  })();
  return loading;
}

/** Session options shared by every ONNX Runtime session the pipeline makes. */
export function sessionOptions(executionProvider: OnnxExecutionProvider, threads: number): Ort.InferenceSession.SessionOptions {
  return {
    // Nodes the CUDA provider lacks run on the CPU.
    executionProviders: executionProvider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
}
