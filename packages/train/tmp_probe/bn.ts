import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@flowers/core/tf';
await selectBackend('cpu');
const m = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [4, 4, 2], filters: 2, kernelSize: 1 }), tf.layers.batchNormalization({ scale: false })] });
try { (m.apply(tf.ones([2, 4, 4, 2]), { training: true }) as tf.Tensor).print(); } catch (e) { console.log('cpu BN scale=false training:', (e as Error).message); }
