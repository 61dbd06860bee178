import * as tf from '@tensorflow/tfjs';
import { buildBase } from './src/models/index.ts';
for (const [name, size] of [['inception_v3', 150], ['mobilenet_v2', 224]] as const) {
  const m = buildBase(name, { inputSize: size, alpha: 0.35 });
  let macs = 0;
  for (const l of m.layers) {
    const cls = l.getClassName();
    if (cls !== 'Conv2D' && cls !== 'DepthwiseConv2D') continue;
    const out = l.outputShape as number[];
    const k = l.getWeights()[0]!.shape;
    macs += cls === 'Conv2D' ? out[1]! * out[2]! * k[0]! * k[1]! * k[2]! * k[3]! : out[1]! * out[2]! * k[0]! * k[1]! * k[2]! * k[3]!;
  }
  console.log(name, size, (macs / 1e9).toFixed(3), 'GMAC/img');
}
