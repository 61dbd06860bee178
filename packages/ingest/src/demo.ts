import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { acquireLock, createRandom, type Random } from '@flowers/core';

/** Pixel painters for the synthetic demo classes: colour and shape both carry the class. */
type Painter = (x: number, y: number, cx: number, cy: number, r: number) => [number, number, number] | undefined;

const DEMO_CLASSES: Record<string, Painter> = {
  // White petals around a yellow heart.
  daisy: (x, y, cx, cy, r) => {
    const d = Math.hypot(x - cx, y - cy);
    return d < r * 0.3 ? [235, 200, 40] : d < r ? [245, 245, 240] : undefined;
  },
  // Many small yellow dots.
  dandelion: (x, y, cx, cy, r) => (Math.hypot(x - cx, y - cy) < r && (x + y) % 4 < 2 ? [250, 215, 30] : undefined),
  // Red rings.
  rose: (x, y, cx, cy, r) => {
    const d = Math.hypot(x - cx, y - cy);
    return d < r ? (Math.floor(d / 4) % 2 ? [200, 20, 40] : [150, 10, 30]) : undefined;
  },
  // Yellow disc with a brown centre.
  sunflower: (x, y, cx, cy, r) => {
    const d = Math.hypot(x - cx, y - cy);
    return d < r * 0.55 ? [90, 50, 20] : d < r ? [250, 190, 10] : undefined;
  },
  // A tall pink cup on a stem.
  tulip: (x, y, cx, cy, r) => {
    if (Math.abs(x - cx) < 2 && y > cy) return [40, 120, 40];
    return ((x - cx) / (r * 0.6)) ** 2 + ((y - cy) / r) ** 2 < 1 ? [230, 90, 150] : undefined;
  },
};

const SIZE = 64;

function paint(painter: Painter, random: Random): Buffer {
  const pixels = Buffer.alloc(SIZE * SIZE * 3);
  const cx = random.uniform(20, 44);
  const cy = random.uniform(20, 44);
  const r = random.uniform(12, 20);
  const background: [number, number, number] = [random.uniform(30, 90), random.uniform(90, 150), random.uniform(30, 80)];
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const colour = painter(x, y, cx, cy, r) ?? background;
      for (let c = 0; c < 3; c++) {
        pixels[(y * SIZE + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(colour[c]! + random.uniform(-25, 25))));
      }
    }
  }
  return pixels;
}

/**
 * Writes a small deterministic five-class image set (PNG, 64x64) so the pipeline runs on a
 * fresh machine with no data. Reuses the folder when it is already complete.
 */
export async function ensureDemoDataset(dir: string, perClass = 60): Promise<string> {
  const complete = (): Promise<boolean> => stat(path.join(dir, '.complete')).then(() => true, () => false);
  if (await complete()) return dir;
  // Two pipeline processes starting at once must not replace each other's folder.
  const lock = await acquireLock(`${dir}.lock`);
  try {
    if (!(await complete())) await writeDemoDataset(dir, perClass);
  } finally {
    await lock.release();
  }
  return dir;
}

async function writeDemoDataset(dir: string, perClass: number): Promise<void> {
  const partial = `${dir}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  for (const [label, painter] of Object.entries(DEMO_CLASSES)) {
    await mkdir(path.join(partial, label), { recursive: true });
    const random = createRandom('demo-dataset', label);
    await Promise.all(
      Array.from({ length: perClass }, (_, i) =>
        sharp(paint(painter, random), { raw: { width: SIZE, height: SIZE, channels: 3 } })
          .png()
          .toFile(path.join(partial, label, `${label}_${String(i).padStart(3, '0')}.png`)),
      ),
    );
  }
  await writeFile(path.join(partial, '.complete'), '');
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
}
