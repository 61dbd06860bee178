/**
 * The report's charts as small Vega-Lite spec builders, rendered headless (vega View, renderer 'none')
 * to SVG, and to PNG through sharp/librsvg.
 */
import sharp from 'sharp';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { ComparedRun, RunReportData } from './types.ts';

export interface RenderedChart {
  svg: string;
  png: Buffer;
  /** Size of the SVG in CSS pixels; the PNG is `scale` times larger. */
  width: number;
  height: number;
}

export type RunChartName = 'class-counts' | 'class-share' | 'accuracy-curve' | 'loss-curve' | 'confusion-matrix' | 'confusion-matrix-normalised';
export type ComparisonChartName = 'compare-val-accuracy';

// librsvg (sharp) draws text only with an installed font: DejaVu Sans is what Debian ships; browsers fall back.
const FONT = 'DejaVu Sans, Verdana, Helvetica, Arial, sans-serif';
const SPLIT_COLOURS = { domain: ['train', 'validation', 'test'], range: ['#4c78a8', '#f58518', '#54a24b'] };
const SERIES_COLOURS = { domain: ['train', 'validation'], range: ['#4c78a8', '#f58518'] };

/** Fields every chart shares: a fixed total size ('fit' makes width/height the whole picture), white background, one font. */
function frame(title: string, width: number, height: number) {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width,
    height,
    autosize: { type: 'fit', contains: 'padding' },
    background: 'white',
    padding: 8,
    config: {
      font: FONT,
      title: { fontSize: 14, anchor: 'start', color: '#1f2933' },
      axis: { labelFontSize: 11, titleFontSize: 12, labelColor: '#3e4c59', titleColor: '#3e4c59', gridColor: '#e4e7eb' },
      legend: { labelFontSize: 11, titleFontSize: 12 },
      view: { stroke: null },
    },
  } as const;
}

// DejaVu Sans at the axis label size (11 px) averages about 6 px a lowercase character.
const LABEL_CHAR_PX = 6.5;
// Room a chart with class bands needs per class: a vertical label is about 14 px wide.
const CLASS_BAND_PX = 24;

/** Estimated width of the longest class name as an axis label. */
const longestLabelPx = (classes: readonly string[]): number => Math.max(0, ...classes.map((c) => c.length)) * LABEL_CHAR_PX;

/**
 * A class-name x axis: level while every name fits its band, else vertical (a name at 45 degrees
 * still reaches over its neighbours once names are long). `extraHeight` is what vertical names
 * add below the plot, for the chart to grow by rather than squash its plot.
 */
function classAxis(classes: readonly string[], plotWidth: number): { axis: { labelAngle: number }; extraHeight: number } {
  const longest = longestLabelPx(classes);
  return longest <= plotWidth / classes.length - 4 ? { axis: { labelAngle: 0 }, extraHeight: 0 } : { axis: { labelAngle: -90 }, extraHeight: longest };
}

/** Grouped bars: images per class, one bar per split; wider and taller than asked when many classes need it. */
export function classCountsSpec(splitCounts: RunReportData['splitCounts'], classes: string[], width = 560, height = 320): TopLevelSpec {
  // About 150 px go to the y axis and the legend; the chart widens so that bands stay readable.
  const plotWidth = Math.max(width - 150, classes.length * CLASS_BAND_PX);
  const { axis, extraHeight } = classAxis(classes, plotWidth);
  return {
    ...frame('Images per class and split', plotWidth + 150, height + extraHeight),
    data: { values: splitCounts },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'label', type: 'nominal', sort: classes, title: 'class', axis },
      xOffset: { field: 'split', type: 'nominal', sort: SPLIT_COLOURS.domain },
      y: { field: 'count', type: 'quantitative', title: 'images' },
      color: { field: 'split', type: 'nominal', scale: SPLIT_COLOURS, title: 'split' },
    },
  } as TopLevelSpec;
}

/** Pie of each class's share of all images (all splits together). */
export function classShareSpec(splitCounts: RunReportData['splitCounts'], classes: string[], width = 360, height = 320): TopLevelSpec {
  const totals = classes.map((label) => ({ label, count: splitCounts.filter((s) => s.label === label).reduce((a, s) => a + s.count, 0) }));
  return {
    ...frame('Class share (all splits)', width, height),
    data: { values: totals },
    transform: [
      { joinaggregate: [{ op: 'sum', field: 'count', as: 'total' }] },
      { calculate: 'datum.total > 0 ? datum.count / datum.total : 0', as: 'share' },
    ],
    encoding: {
      theta: { field: 'count', type: 'quantitative', stack: true },
      color: { field: 'label', type: 'nominal', sort: classes, title: 'class', scale: { scheme: 'tableau10' } },
      order: { field: 'label', sort: 'ascending' },
    },
    layer: [
      // Radii follow the plot size so the percentage labels stay inside the picture.
      { mark: { type: 'arc', outerRadius: { expr: 'min(width, height) / 2 - 26' }, stroke: 'white', strokeWidth: 1.5, tooltip: true } },
      {
        mark: { type: 'text', radius: { expr: 'min(width, height) / 2 - 10' }, fontSize: 11, fill: '#3e4c59' },
        encoding: { text: { field: 'share', type: 'quantitative', format: '.1%' } },
      },
    ],
  } as TopLevelSpec;
}

/** Train vs validation accuracy or loss per epoch, with the best epoch marked by a dashed rule. */
export function learningCurveSpec(history: RunReportData['history'], metric: 'accuracy' | 'loss', bestEpoch?: number, width = 480, height = 300): TopLevelSpec {
  const points = history.flatMap((h) => [
    { epoch: h.epoch, series: 'train', value: h[metric] },
    { epoch: h.epoch, series: 'validation', value: metric === 'accuracy' ? h.val_accuracy : h.val_loss },
  ]);
  const layers: object[] = [
    {
      data: { values: points },
      mark: { type: 'line', point: true, tooltip: true },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1, format: 'd' }, scale: { nice: false } },
        y: { field: 'value', type: 'quantitative', title: metric, scale: { zero: false } },
        color: { field: 'series', type: 'nominal', scale: SERIES_COLOURS, title: null },
      },
    },
  ];
  if (bestEpoch !== undefined) {
    const best = [{ epoch: bestEpoch, label: `best epoch ${bestEpoch}` }];
    // Label on the side of the rule with more room, so it never runs past the plot into the legend.
    const epochs = history.map((h) => h.epoch);
    const labelLeft = bestEpoch > (Math.min(...epochs) + Math.max(...epochs)) / 2;
    layers.push(
      { data: { values: best }, mark: { type: 'rule', strokeDash: [5, 4], color: '#7b8794' }, encoding: { x: { field: 'epoch', type: 'quantitative' } } },
      {
        data: { values: best },
        mark: { type: 'text', align: labelLeft ? 'right' : 'left', baseline: 'top', dx: labelLeft ? -4 : 4, y: 4, fontSize: 11, color: '#52606d' },
        encoding: { x: { field: 'epoch', type: 'quantitative' }, text: { field: 'label' } },
      },
    );
  }
  return { ...frame(metric === 'accuracy' ? 'Accuracy per epoch' : 'Loss per epoch', width, height), layer: layers } as TopLevelSpec;
}

/**
 * Heatmap of a confusion matrix (rows true, columns predicted) annotated with counts, or row-normalised
 * rates; larger than asked when many classes need it.
 */
export function confusionMatrixSpec(cm: number[][], classes: string[], normalise: boolean, width = 420, height = 380): TopLevelSpec {
  const cells = cm.flatMap((row, t) => {
    const support = row.reduce((a, b) => a + b, 0);
    return row.map((count, p) => ({ true: classes[t], predicted: classes[p], value: normalise ? (support > 0 ? count / support : 0) : count }));
  });
  const max = Math.max(1e-9, ...cells.map((c) => c.value));
  // The y axis takes the longest name and its title; the cells get at least a band each way.
  const yAxisWidth = longestLabelPx(classes) + 40;
  const plotWidth = Math.max(width - yAxisWidth, classes.length * CLASS_BAND_PX);
  const { axis, extraHeight } = classAxis(classes, plotWidth);
  const title = normalise ? 'Confusion matrix (row-normalised)' : 'Confusion matrix (counts)';
  return {
    // 60 px: the title above, the axis title below.
    ...frame(title, plotWidth + yAxisWidth, Math.max(height, classes.length * CLASS_BAND_PX + 60) + extraHeight),
    data: { values: cells },
    encoding: {
      x: { field: 'predicted', type: 'nominal', sort: classes, title: 'predicted class', axis: { ...axis, orient: 'bottom' } },
      y: { field: 'true', type: 'nominal', sort: classes, title: 'true class' },
    },
    layer: [
      {
        mark: { type: 'rect', tooltip: true },
        encoding: { color: { field: 'value', type: 'quantitative', scale: { scheme: 'blues', domainMin: 0 }, title: normalise ? 'rate' : 'count', legend: null } },
      },
      {
        mark: { type: 'text', fontSize: 12 },
        encoding: {
          text: { field: 'value', type: 'quantitative', format: normalise ? '.2f' : 'd' },
          color: { condition: { test: `datum.value > ${max / 2}`, value: 'white' }, value: '#1f2933' },
        },
      },
    ],
  } as TopLevelSpec;
}

/** Validation accuracy per epoch of several runs overlaid. */
export function compareRunsSpec(runs: ComparedRun[], width = 640, height = 340): TopLevelSpec {
  const experiments = runs.map((r) => r.experiment);
  const unique = new Set(experiments).size === experiments.length;
  const name = (r: ComparedRun) => (unique ? r.experiment : `${r.experiment} (${r.run})`);
  const points = runs.flatMap((r) => r.history.map((h) => ({ run: name(r), epoch: h.epoch, val_accuracy: h.val_accuracy })));
  return {
    ...frame('Validation accuracy per epoch', width, height),
    data: { values: points },
    mark: { type: 'line', point: { size: 24 }, tooltip: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1, format: 'd' } },
      y: { field: 'val_accuracy', type: 'quantitative', title: 'validation accuracy', scale: { zero: false } },
      color: { field: 'run', type: 'nominal', sort: runs.map(name), title: 'run', scale: { scheme: 'tableau10' }, legend: { orient: 'bottom', columns: 2 } },
    },
  } as TopLevelSpec;
}

/** The charts of a run report, by file name; curves only when there is a training history. */
export function runChartSpecs(data: RunReportData): Partial<Record<RunChartName, TopLevelSpec>> {
  const cm = data.metrics.confusion_matrix;
  const specs: Partial<Record<RunChartName, TopLevelSpec>> = {
    'class-counts': classCountsSpec(data.splitCounts, data.classes),
    'class-share': classShareSpec(data.splitCounts, data.classes),
  };
  if (data.history.length > 0) {
    specs['accuracy-curve'] = learningCurveSpec(data.history, 'accuracy', data.bestEpoch);
    specs['loss-curve'] = learningCurveSpec(data.history, 'loss', data.bestEpoch);
  }
  specs['confusion-matrix'] = confusionMatrixSpec(cm, data.classes, false);
  specs['confusion-matrix-normalised'] = confusionMatrixSpec(cm, data.classes, true);
  return specs;
}

export function comparisonChartSpecs(runs: ComparedRun[]): Record<ComparisonChartName, TopLevelSpec> {
  return { 'compare-val-accuracy': compareRunsSpec(runs) };
}

/** Compiles and renders a spec to SVG, and to a PNG `scale` times the SVG size (rasterised at 72*scale dpi, so crisp). */
export async function renderChart(spec: TopLevelSpec, scale = 2): Promise<RenderedChart> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    const size = /<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/.exec(svg);
    if (!size) throw new Error('renderChart: vega produced an SVG without width/height');
    const png = await sharp(Buffer.from(svg), { density: 72 * scale }).png().toBuffer();
    return { svg, png, width: Number(size[1]), height: Number(size[2]) };
  } finally {
    view.finalize();
  }
}
