import { loadOnnxRuntime, sessionOptions, type OrtModule } from '@flowers/core/onnx';
import { ONNX_CUT_OUTPUT, ONNX_FEATURES_OUTPUT, ONNX_PIXELS_INPUT } from '../onnx/graph_io.ts';
import type { BaseRunner, FeatureRows, OnnxEngineData } from './engine.ts';

type Session = Awaited<ReturnType<OrtModule['InferenceSession']['create']>>;

/**
 * An ONNX Runtime session over the exported graph. The pixels go in as they are (uint8 NHWC,
 * wrapped without a copy); scaling and layout happen inside the graph.
 */
export async function loadOnnxRunner(data: OnnxEngineData): Promise<BaseRunner> {
  const { ort } = await loadOnnxRuntime();
  let session: Session;
  try {
    session = await ort.InferenceSession.create(data.graphFile, sessionOptions(data.executionProvider, data.threads));
  } catch (error) {
    throw new Error(`ONNX Runtime cannot load ${data.graphFile}: ${(error as Error).message.split('\n')[0]}`);
  }
  const { inputSize } = data.spec;
  const pixelBytes = inputSize * inputSize * 3;
  const hasCut = data.spec.cut !== undefined;
  return {
    async run(pixels, rows) {
      let out: FeatureRows | undefined;
      for (let start = 0; start < rows; start += data.batchSize) {
        const n = Math.min(data.batchSize, rows - start);
        const input = new ort.Tensor('uint8', pixels.subarray(start * pixelBytes, (start + n) * pixelBytes), [n, inputSize, inputSize, 3]);
        const result = await session.run({ [ONNX_PIXELS_INPUT]: input });
        const features = result[ONNX_FEATURES_OUTPUT]!.data as Float32Array;
        const cut = hasCut ? (result[ONNX_CUT_OUTPUT]!.data as Float32Array) : undefined;
        if (n === rows) return { features, ...(cut === undefined ? {} : { cut }) }; // one pass: ONNX Runtime's own buffers, no copy
        out ??= {
          features: new Float32Array(rows * (features.length / n)),
          ...(cut === undefined ? {} : { cut: new Float32Array(rows * (cut.length / n)) }),
        };
        out.features.set(features, start * (features.length / n));
        if (cut !== undefined) out.cut!.set(cut, start * (cut.length / n));
      }
      return out ?? { features: new Float32Array(0), ...(hasCut ? { cut: new Float32Array(0) } : {}) };
    },
    dispose: () => void session.release(),
  };
}
