import { describe, expect, it } from 'vitest';
import { createPool } from '@flowers/core';

/** Whether a pool thread that loads `probe`'s thread module has TensorFlow.js loaded. */
async function tfjsLoadedIn(probe: string): Promise<boolean> {
  const pool = createPool(new URL(`./fixtures/${probe}`, import.meta.url), 1, { workerData: { engine: { engine: 'test' } } });
  try {
    return (await pool.run({})) as boolean;
  } finally {
    await pool.destroy();
  }
}

describe('features thread modules', () => {
  it('an ONNX Runtime thread starts without loading TensorFlow.js; a TensorFlow.js thread loads it', async () => {
    expect(await tfjsLoadedIn('onnx_thread_probe.ts')).toBe(false);
    expect(await tfjsLoadedIn('tfjs_thread_probe.ts')).toBe(true);
  });
});
