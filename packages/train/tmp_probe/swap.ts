import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@flowers/core/tf';
await selectBackend('wasm');
for (const [shape, cout] of [[[32, 74, 74, 32], 64], [[32, 150, 150, 3], 32], [[32, 36, 36, 64], 128]] as const) {
  const x = tf.randomNormal([...shape]) as tf.Tensor4D;
  const [N, H, W, C] = shape;
  const dy = tf.randomNormal([N, H - 2, W - 2, cout]) as tf.Tensor4D;
  for (let r = 0; r < 2; r++) {
    let t = performance.now();
    const xT = tf.transpose(x, [3, 1, 2, 0]) as tf.Tensor4D; await xT.data();
    const t1 = performance.now() - t; t = performance.now();
    const dyT = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; await dyT.data();
    const t2 = performance.now() - t; t = performance.now();
    const g = tf.conv2d(xT, dyT, 1, 'valid'); await g.data();
    const t3 = performance.now() - t; t = performance.now();
    const ref = tf.transpose(g, [1, 2, 0, 3]);
    // approach A: slices + matmul
    const dyM = tf.transpose(dy.reshape([-1, cout])); const parts: tf.Tensor[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      const xs = tf.slice(x, [0, i, j, 0], [N, H - 2, W - 2, C]).reshape([-1, C]);
      parts.push(tf.matMul(dyM, xs)); xs.dispose();
    }
    const a = tf.stack(parts); await a.data();
    const tA = performance.now() - t;
    const aT = tf.transpose(a, [0, 2, 1]).reshape([3, 3, C, cout]);
    const diff = tf.max(tf.abs(tf.sub(aT, ref))).dataSync()[0];
    console.log(shape, `xT ${t1.toFixed(0)} dyT ${t2.toFixed(0)} conv ${t3.toFixed(0)} | A ${tA.toFixed(0)} ms diff ${diff}`);
    tf.dispose([xT, dyT, g, ref, dyM, ...parts, a, aT]);
  }
}
