export type { RunReportData, ComparedRun } from './types.ts';
export { formatClassificationReport, mostConfusedPairs, worstMisclassified, type ConfusedPair, type Misclassified } from './metrics.ts';
export { formatFixed } from './format.ts';
export {
  classCountsSpec, classShareSpec, learningCurveSpec, confusionMatrixSpec, compareRunsSpec, runChartSpecs, comparisonChartSpecs, renderChart,
  type RenderedChart, type RunChartName, type ComparisonChartName,
} from './charts.ts';
export { renderRunReport, renderComparison, escapeHtml, type RunReportAssets, type GalleryItem } from './html.ts';
export { thumbnailDataUri } from './thumbnails.ts';
export { writeRunReport, writeComparisonReport } from './render.ts';
export { gatherRunReportData, writeReportForRun, writeComparisonForRuns } from './stage.ts';
