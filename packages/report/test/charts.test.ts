import { describe, it, expect } from 'vitest';
import sharp from 'sharp';
import { metricsJson } from '@flowers/core/contracts';
import { classCountsSpec, confusionMatrixSpec, learningCurveSpec, renderChart, runChartSpecs } from '../src/charts.ts';

const splitCounts = [
  { split: 'train' as const, label: 'daisy', count: 30 },
  { split: 'validation' as const, label: 'daisy', count: 6 },
  { split: 'train' as const, label: 'rose', count: 20 },
  { split: 'test' as const, label: 'rose', count: 5 },
];

describe('renderChart', () => {
  it('renders an SVG of the asked size and a PNG scale times larger', async () => {
    const chart = await renderChart(classCountsSpec(splitCounts, ['daisy', 'rose'], 300, 200), 2);
    expect(chart.width).toBe(300);
    expect(chart.height).toBe(200);
    expect(chart.svg.startsWith('<svg')).toBe(true);
    expect(chart.svg).toContain('>daisy<');
    expect(chart.svg).toContain('Images per class and split');
    const meta = await sharp(chart.png).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBe(600);
    expect(meta.height).toBe(400);
  });

  it('draws text into the PNG (a font is found): the title row is not blank', async () => {
    const chart = await renderChart(confusionMatrixSpec([[3, 1], [0, 4]], ['a', 'b'], false, 240, 200), 1);
    // The title sits in the top 24 pixels of an otherwise white margin; dark pixels there come only from glyphs.
    const { data, info } = await sharp(chart.png).extract({ left: 0, top: 0, width: 240, height: 24 }).greyscale().raw().toBuffer({ resolveWithObject: true });
    const dark = [...data].filter((v) => v < 128).length;
    expect(info.width).toBe(240);
    expect(dark).toBeGreaterThan(20);
  });
});

describe('runChartSpecs', () => {
  it('makes every run chart, curves only when there is a history', async () => {
    const base = {
      run: 'r', experiment: 'e', createdAt: '', classes: ['daisy', 'rose'], splitCounts,
      ingest: { skipped: [], duplicates: [] }, stages: [],
      test: { yTrue: [0, 1, 1], probabilities: [[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]], paths: [] },
      metrics: metricsJson([0, 1, 1], [[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]], ['daisy', 'rose']),
    };
    const withoutHistory = runChartSpecs({ ...base, history: [] });
    expect(Object.keys(withoutHistory)).toEqual(['class-counts', 'class-share', 'confusion-matrix', 'confusion-matrix-normalised']);
    const history = [1, 2, 3].map((epoch) => ({ epoch, loss: 1 / epoch, accuracy: 0.3 * epoch, val_loss: 1.1 / epoch, val_accuracy: 0.25 * epoch }));
    const specs = runChartSpecs({ ...base, history, bestEpoch: 2 });
    expect(Object.keys(specs).sort()).toEqual(['accuracy-curve', 'class-counts', 'class-share', 'confusion-matrix', 'confusion-matrix-normalised', 'loss-curve']);
    const curve = await renderChart(specs['accuracy-curve']!);
    expect(curve.svg).toContain('best epoch 2');
    const meta = await sharp(curve.png).metadata();
    expect(meta.width).toBe(2 * curve.width);
    expect(meta.height).toBe(2 * curve.height);
    // Confusion matrix cells carry the counts: row 'rose' has one image predicted 'daisy'.
    const cm = await renderChart(specs['confusion-matrix']!);
    for (const count of ['>1<', '>0<']) expect(cm.svg).toContain(count);
  });

  it('puts the best-epoch label on the side of its rule with room, away from the legend', () => {
    const history = Array.from({ length: 20 }, (_, i) => ({ epoch: i + 1, loss: 1, accuracy: 0.5, val_loss: 1, val_accuracy: 0.5 }));
    const labelMark = (bestEpoch: number) => {
      const spec = learningCurveSpec(history, 'accuracy', bestEpoch) as unknown as { layer: Array<{ mark: { type: string; align?: string } }> };
      return spec.layer.find((layer) => layer.mark.type === 'text')!.mark;
    };
    expect(labelMark(16).align).toBe('right');
    expect(labelMark(3).align).toBe('left');
  });
});
