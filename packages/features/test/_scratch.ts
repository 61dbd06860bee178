import * as tf from '@tensorflow/tfjs';
import { buildInceptionV3 } from '/work/main/packages/features/src/models/inception_v3.ts';
import { buildMobileNetV2 } from '/work/main/packages/features/src/models/mobilenet_v2.ts';
await tf.setBackend('cpu');
let t=Date.now();
const inc = buildInceptionV3({ inputSize: 150 });
console.log('inc', inc.countParams(), inc.outputs[0].shape, inc.layers.length, Date.now()-t);
for (const a of [0.35,0.5,0.75,1.0] as const) { const m = buildMobileNetV2({alpha:a, inputSize:224}); console.log(a, m.countParams(), m.outputs[0].shape, m.layers.length); }
const inc75 = buildInceptionV3({ inputSize: 75 }); console.log(inc75.outputs[0].shape);
