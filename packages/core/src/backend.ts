import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { hasCudaDevice, loadOnnxRuntime, type OnnxRuntime } from './onnx_runtime.ts';

export type BackendRequest = 'auto' | 'tensorflow' | 'onnx' | 'wasm' | 'cpu';
export const BACKEND_REQUESTS: readonly BackendRequest[] = ['auto', 'tensorflow', 'onnx', 'wasm', 'cpu'];
type TfjsBackend = 'tensorflow' | 'wasm' | 'cpu';

export interface SelectedBackend {
  /**
   * The engine, as recorded in manifests, artifact keys and runs: 'tensorflow', 'wasm', 'cpu',
   * or ONNX Runtime with its execution provider, 'onnx-cpu' or 'onnx-cuda'.
   */
  name: string;
  /** The TensorFlow.js backend now active: it holds the tensors, and runs what ONNX Runtime does not. */
  tfjs: TfjsBackend;
  /** Set for the onnx engine. */
  onnx?: OnnxRuntime;
  /** One line for the user: which backend and why this one. */
  reason: string;
}

const require = createRequire(import.meta.url);

// The pure-JS backend warns on first use that tfjs-node would be faster; we say which backend
// we picked and why ourselves, so keep stderr for our own messages.
tf.env().set('PROD', true);

async function loadNative(): Promise<string> {
  // tfjs-node(-gpu) register the 'tensorflow' backend on import; they exist only where their
  // install could download libtensorflow, so both are optional dependencies.
  const candidates = hasCudaDevice() ? ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] : ['@tensorflow/tfjs-node'];
  const failures: string[] = [];
  for (const pkg of candidates) {
    try {
      await import(pkg);
      if (await tf.setBackend('tensorflow')) return pkg;
      failures.push(`${pkg}: backend did not initialise`);
    } catch (error) {
      const message = firstLine(error);
      failures.push(
        (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND'
          ? `${pkg} is not installed`
          : /tfjs_binding\.node/.test(message)
            ? `${pkg} has no native library (its install could not download libtensorflow)`
            : `${pkg}: ${message}`,
      );
    }
  }
  throw new Error(failures.join('; '));
}

let wasmPathsSet = false;
/**
 * The wasm module's Emscripten glue installs process-wide handlers that rethrow every unhandled
 * rejection and exception, dumping its minified source; take them off so failures reach the
 * CLI's own one-line error handling.
 */
function withoutEmscriptenProcessHandlers<T>(load: () => Promise<T>): Promise<T> {
  type Listener = (...args: unknown[]) => void;
  const events = ['uncaughtException', 'unhandledRejection'] as const;
  const listeners = (event: (typeof events)[number]): Listener[] => process.listeners(event as 'uncaughtException') as Listener[];
  const before = new Map(events.map((event) => [event, new Set(listeners(event))]));
  const restore = (): void => {
    for (const event of events) {
      for (const listener of listeners(event)) if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  };
  return load().finally(restore);
}

function loadWasm(): Promise<void> {
  return withoutEmscriptenProcessHandlers(activateWasm);
}

async function activateWasm(): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (!wasmPathsSet) {
    const distDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
    // In Node the wasm backend runs one thread per process; parallelism comes from worker threads.
    wasm.setWasmPaths(distDir + path.sep);
    wasmPathsSet = true;
  }
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
}

function firstLine(error: unknown): string {
  const line = String(error instanceof Error ? error.message : error).split('\n')[0]!.trim();
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

/**
 * ONNX Runtime for the heavy kernels over wasm tensors (cpu where wasm cannot load): the
 * TensorFlow.js side keeps the models, weights and everything ONNX Runtime does not run.
 */
async function loadOnnx(): Promise<{ onnx: OnnxRuntime; tfjs: TfjsBackend }> {
  const onnx = await loadOnnxRuntime();
  try {
    await loadWasm();
    return { onnx, tfjs: 'wasm' };
  } catch {
    await tf.setBackend('cpu');
    return { onnx, tfjs: 'cpu' };
  }
}

function onnxBackend({ onnx, tfjs }: { onnx: OnnxRuntime; tfjs: TfjsBackend }, why: string): SelectedBackend {
  return {
    name: `onnx-${onnx.executionProvider}`,
    tfjs,
    onnx,
    reason: `ONNX Runtime ${onnx.version} on ${onnx.executionProvider} (${onnx.providerReason}), TensorFlow.js tensors on ${tfjs}, ${why}`,
  };
}

/**
 * Activates the requested backend. `auto` takes the fastest that loads: native TensorFlow (GPU
 * build first where a CUDA device exists), then ONNX Runtime, then wasm, then cpu.
 */
export async function selectBackend(requested: BackendRequest): Promise<SelectedBackend> {
  if (requested === 'tensorflow') {
    try {
      const pkg = await loadNative();
      return { name: 'tensorflow', tfjs: 'tensorflow', reason: `native TensorFlow via ${pkg} (requested)` };
    } catch (error) {
      throw new Error(`backend 'tensorflow' cannot load (${firstLine(error)}); try --backend onnx or --backend wasm`);
    }
  }
  if (requested === 'onnx') {
    try {
      return onnxBackend(await loadOnnx(), 'requested');
    } catch (error) {
      throw new Error(`backend 'onnx' cannot load (${firstLine(error)}); try --backend wasm`);
    }
  }
  if (requested === 'wasm') {
    try {
      await loadWasm();
      return { name: 'wasm', tfjs: 'wasm', reason: 'WebAssembly (requested)' };
    } catch (error) {
      throw new Error(`backend 'wasm' cannot load (${firstLine(error)}); try --backend cpu`);
    }
  }
  if (requested === 'cpu') {
    await tf.setBackend('cpu');
    return { name: 'cpu', tfjs: 'cpu', reason: 'pure JavaScript (requested)' };
  }
  let nativeFailure: string;
  try {
    const pkg = await loadNative();
    return { name: 'tensorflow', tfjs: 'tensorflow', reason: `native TensorFlow via ${pkg}, the fastest available` };
  } catch (error) {
    nativeFailure = firstLine(error);
  }
  let onnxFailure: string;
  try {
    return onnxBackend(await loadOnnx(), `since native TensorFlow is unavailable: ${nativeFailure}`);
  } catch (error) {
    onnxFailure = firstLine(error);
  }
  try {
    await loadWasm();
    return { name: 'wasm', tfjs: 'wasm', reason: `WebAssembly, since native TensorFlow (${nativeFailure}) and ONNX Runtime (${onnxFailure}) are unavailable` };
  } catch (error) {
    await tf.setBackend('cpu');
    return { name: 'cpu', tfjs: 'cpu', reason: `pure JavaScript: neither native TensorFlow, ONNX Runtime nor wasm loaded (${firstLine(error)})` };
  }
}
