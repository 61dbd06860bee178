/** Writes a report page and each of its charts (as .svg and .png) into a folder, every file atomically. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '@flowers/core';
import type { TopLevelSpec } from 'vega-lite';
import { comparisonChartSpecs, renderChart, runChartSpecs, type RenderedChart } from './charts.ts';
import { renderComparison, renderRunReport, type GalleryItem } from './html.ts';
import { worstMisclassified } from './metrics.ts';
import { thumbnailDataUri } from './thumbnails.ts';
import type { ComparedRun, RunReportData } from './types.ts';

const GALLERY_SIZE = 24;

/** Renders every spec and writes `<name>.svg` and `<name>.png`; returns the rendered charts by name and the chart names written. */
async function writeCharts<N extends string>(outDir: string, specs: Partial<Record<N, TopLevelSpec>>): Promise<{ charts: Partial<Record<N, RenderedChart>>; names: N[] }> {
  const charts: Partial<Record<N, RenderedChart>> = {};
  const names = Object.keys(specs) as N[];
  for (const name of names) {
    const chart = await renderChart(specs[name]!);
    await writeFileAtomic(path.join(outDir, `${name}.svg`), chart.svg);
    await writeFileAtomic(path.join(outDir, `${name}.png`), chart.png);
    charts[name] = chart;
  }
  return { charts, names };
}

export async function writeRunReport(outDir: string, data: RunReportData): Promise<{ html: string; charts: string[] }> {
  await fs.mkdir(outDir, { recursive: true });
  const { charts, names } = await writeCharts(outDir, runChartSpecs(data));
  const gallery: GalleryItem[] = await Promise.all(
    worstMisclassified(data.test.yTrue, data.test.probabilities, GALLERY_SIZE).map(async (m) => {
      const imagePath = data.test.paths[m.index] ?? '';
      return { ...m, path: imagePath, thumbnail: imagePath ? await thumbnailDataUri(imagePath) : null };
    }),
  );
  const html = path.join(outDir, 'report.html');
  await writeFileAtomic(html, renderRunReport(data, { charts, gallery }));
  return { html, charts: names };
}

export async function writeComparisonReport(outDir: string, runs: ComparedRun[]): Promise<{ html: string; charts: string[] }> {
  await fs.mkdir(outDir, { recursive: true });
  const { charts, names } = await writeCharts(outDir, comparisonChartSpecs(runs));
  const html = path.join(outDir, 'report.html');
  await writeFileAtomic(html, renderComparison(runs, charts));
  return { html, charts: names };
}
