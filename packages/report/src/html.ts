/**
 * The run report and the runs comparison as ONE self-contained HTML page each: inline CSS, charts as
 * data-URI SVG images, thumbnails as data-URI JPEG; no scripts and nothing fetched (a CSP forbids it).
 */
import type { ComparisonChartName, RenderedChart, RunChartName } from './charts.ts';
import { formatFixed } from './format.ts';
import { classificationReportOf } from '@flowers/core/contracts';
import { formatClassificationReport, mostConfusedPairs, type Misclassified } from './metrics.ts';
import type { ComparedRun, RunReportData } from './types.ts';

export interface GalleryItem extends Misclassified { path: string; /** data URI, or null when the image could not be read */ thumbnail: string | null }

export interface RunReportAssets {
  charts: Partial<Record<RunChartName, RenderedChart>>;
  /** The worst misclassified test images, already thumbnailed. */
  gallery: GalleryItem[];
}

/** Escapes text for HTML content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const esc = escapeHtml;
const fixed = formatFixed;

const STYLE = `
:root { --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --bg: #f5f7fa; --card: #fff; --accent: #2f6fb0; --bad: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 20px 64px; }
h1 { font-size: 26px; margin: 0 0 2px; } h2 { font-size: 20px; margin: 0 0 14px; padding-bottom: 6px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 18px 0 8px; }
nav { display: flex; gap: 16px; flex-wrap: wrap; margin: 10px 0 0; font-size: 14px; } nav a { color: var(--accent); text-decoration: none; }
section, header.summary { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 20px 22px; margin: 18px 0; box-shadow: 0 1px 2px rgba(0,0,0,.04); }
.sub { color: var(--muted); font-size: 13px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin-top: 16px; }
.tile { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; background: #fbfcfd; }
.tile .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.tile .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; } .tile .extra { color: var(--muted); font-size: 13px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
figure { margin: 0; } figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 4px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-variant-numeric: tabular-nums; font-size: 14px; }
th, td { padding: 5px 12px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: #f0f3f7; font-weight: 600; } td.num, th.num { text-align: right; } tr.total td { font-weight: 600; border-top: 2px solid var(--line); }
tr.best td { background: #eef6ee; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; overflow-x: auto; margin: 6px 0 12px; }
.note { color: var(--bad); font-size: 13px; } .empty { color: var(--muted); font-style: italic; }
details summary { cursor: pointer; color: var(--accent); margin: 8px 0; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 12px; }
.gallery .item { border: 1px solid var(--line); border-radius: 8px; padding: 6px; font-size: 12.5px; background: #fbfcfd; }
.gallery img, .gallery .placeholder { display: block; width: 100%; aspect-ratio: 1; object-fit: cover; border-radius: 5px; }
.gallery .placeholder { display: flex; align-items: center; justify-content: center; background: repeating-linear-gradient(45deg, #eef1f4, #eef1f4 8px, #e4e7eb 8px, #e4e7eb 16px); color: var(--muted); }
.gallery .path { color: var(--muted); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.pred { color: var(--bad); font-weight: 600; }
.stage { border-top: 1px solid var(--line); padding-top: 4px; margin-top: 14px; }
.stage-body { display: flex; flex-wrap: wrap; gap: 0 28px; align-items: flex-start; } .stage-body .params { flex: 1 1 320px; min-width: 0; }
h4 { font-size: 13px; margin: 10px 0 4px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
`;

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

function figure(chart: RenderedChart | undefined, name: string, caption: string): string {
  if (!chart) return '';
  const src = `data:image/svg+xml;base64,${Buffer.from(chart.svg).toString('base64')}`;
  return `<figure data-chart="${esc(name)}"><img src="${src}" width="${chart.width}" height="${chart.height}" alt="${esc(caption)}"><figcaption>${esc(caption)}</figcaption></figure>`;
}

function table(headers: string[], rows: string[][], numeric: boolean[], rowClass: (i: number) => string = () => ''): string {
  const cls = (j: number) => (numeric[j] ? ' class="num"' : '');
  const head = headers.map((h, j) => `<th${cls(j)}>${esc(h)}</th>`).join('');
  const body = rows.map((r, i) => `<tr${rowClass(i) ? ` class="${rowClass(i)}"` : ''}>${r.map((c, j) => `<td${cls(j)}>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function tile(label: string, value: string, extra = ''): string {
  return `<div class="tile"><div class="label">${esc(label)}</div><div class="value">${value}</div>${extra ? `<div class="extra">${extra}</div>` : ''}</div>`;
}

function fileName(p: string): string {
  return p.split(/[\\/]/).pop() ?? p;
}

function json(value: unknown): string {
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}

function datasetSection(data: RunReportData, charts: RunReportAssets['charts']): string {
  const splits = ['train', 'validation', 'test'] as const;
  const count = (label: string, split: string) => data.splitCounts.filter((s) => s.label === label && s.split === split).reduce((a, s) => a + s.count, 0);
  const rows = data.classes.map((label) => {
    const counts = splits.map((s) => count(label, s));
    return [esc(label), ...counts.map(String), String(counts.reduce((a, b) => a + b, 0))];
  });
  const totals = splits.map((s) => data.classes.reduce((a, label) => a + count(label, s), 0));
  rows.push(['total', ...totals.map(String), String(totals.reduce((a, b) => a + b, 0))]);
  const skipped = data.ingest.skipped.length === 0
    ? '<p class="empty">No files skipped.</p>'
    : table(['file', 'reason'], data.ingest.skipped.map((s) => [`<span class="mono">${esc(s.path)}</span>`, esc(s.reason)]), [false, false]);
  const duplicates = data.ingest.duplicates.length === 0
    ? '<p class="empty">No duplicate files.</p>'
    : table(['kept', 'dropped as duplicates'], data.ingest.duplicates.map((d) => [`<span class="mono">${esc(d.kept)}</span>`, d.dropped.map((f) => `<span class="mono">${esc(f)}</span>`).join('<br>')]), [false, false]);
  return `<section id="dataset"><h2>Dataset</h2>
${table(['class', ...splits, 'total'], rows, [false, true, true, true, true], (i) => (i === rows.length - 1 ? 'total' : ''))}
<div class="charts">${figure(charts['class-counts'], 'class-counts', 'Images per class and split')}${figure(charts['class-share'], 'class-share', 'Share of each class over all splits')}</div>
<h3>Skipped files (${data.ingest.skipped.length})</h3>${skipped}
<h3>Duplicates (${data.ingest.duplicates.length})</h3>${duplicates}
</section>`;
}

function augmentationSection(data: RunReportData): string {
  const grid = data.augmentPreviewPng
    ? `<figure data-chart="augment-preview"><img src="data:image/png;base64,${Buffer.from(data.augmentPreviewPng).toString('base64')}" alt="One training image and its augmented views"><figcaption>One training image and augmented views of it</figcaption></figure>`
    : '<p class="empty">No augmentation in this run.</p>';
  return `<section id="augmentation"><h2>Augmentation</h2>${grid}</section>`;
}

function trainingSection(data: RunReportData, charts: RunReportAssets['charts']): string {
  if (data.history.length === 0) return '<section id="training"><h2>Training</h2><p class="empty">No training history in this run.</p></section>';
  const best = data.history.find((h) => h.epoch === data.bestEpoch);
  const bestLine = best
    ? `<p>Best epoch <strong id="best-epoch">${best.epoch}</strong>: validation accuracy <strong>${fixed(best.val_accuracy, 4)}</strong>, validation loss <strong>${fixed(best.val_loss, 4)}</strong>.</p>`
    : '';
  const headEpochs = data.history.filter((h) => h.phase === 'head').length;
  const phasesLine = headEpochs > 0
    ? `<p id="phases">Epochs 1 to ${headEpochs} trained the head alone on the base's features; from epoch ${headEpochs + 1} the top of the base fine-tuned with it.</p>`
    : '';
  const rows = data.history.map((h) => [
    String(h.epoch), fixed(h.loss, 4), fixed(h.accuracy, 4), fixed(h.val_loss, 4), fixed(h.val_accuracy, 4),
    h.lr === undefined ? '' : String(h.lr), h.seconds === undefined ? '' : fixed(h.seconds, 1),
  ]);
  return `<section id="training"><h2>Training</h2>${bestLine}${phasesLine}
<div class="charts">${figure(charts['accuracy-curve'], 'accuracy-curve', 'Accuracy per epoch, train vs validation (dashed: best epoch)')}${figure(charts['loss-curve'], 'loss-curve', 'Loss per epoch, train vs validation (dashed: best epoch)')}</div>
<details><summary>Per-epoch history (${data.history.length} epochs)</summary>
${table(['epoch', 'loss', 'accuracy', 'val_loss', 'val_accuracy', 'lr', 'seconds'], rows, [true, true, true, true, true, true, true], (i) => (data.history[i]!.epoch === data.bestEpoch ? 'best' : ''))}
</details></section>`;
}

function testSection(data: RunReportData, assets: RunReportAssets): string {
  const { metrics } = data;
  const report = classificationReportOf(metrics);
  const scoreRow = (name: string, s: { precision: number; recall: number; f1: number; support: number }) => [esc(name), fixed(s.precision, 4), fixed(s.recall, 4), fixed(s.f1, 4), String(s.support)];
  const reportRows = [
    ...data.classes.map((name, c) => scoreRow(name, report.perClass[c]!)),
    ['accuracy', '', '', `<span id="report-accuracy">${fixed(report.accuracy, 4)}</span>`, String(metrics.n)],
    scoreRow('macro avg', report.macroAvg),
    scoreRow('weighted avg', report.weightedAvg),
  ];
  const firstAverage = data.classes.length;
  const notes = report.notes.map((n) => `<p class="note">${esc(n)}</p>`).join('');
  const pairs = mostConfusedPairs(metrics.confusion_matrix, data.classes, 8);
  const pairsTable = pairs.length === 0
    ? '<p class="empty">No misclassifications.</p>'
    : table(['true class', 'predicted as', 'images', 'share of true class'], pairs.map((p) => [esc(p.trueLabel), esc(p.predictedLabel), String(p.count), fixed(p.rate, 4)]), [false, false, true, true]);
  const gallery = assets.gallery.length === 0
    ? '<p class="empty">No misclassified test images.</p>'
    : `<div class="gallery">${assets.gallery.map((g) => `<div class="item">${g.thumbnail
      ? `<img src="${g.thumbnail}" alt="${esc(fileName(g.path))}">`
      : '<div class="placeholder">image unavailable</div>'}
<div>predicted: <span class="pred">${esc(data.classes[g.predictedClass]!)}</span> (${fixed(g.probability, 4)})</div>
<div>true: <strong>${esc(data.classes[g.trueClass]!)}</strong> (${fixed(g.trueProbability, 4)})</div>
<div class="path" title="${esc(g.path)}">${esc(fileName(g.path))}</div></div>`).join('\n')}</div>`;
  return `<section id="test"><h2>Test</h2>
<p>Accuracy on ${metrics.n} test images: <strong>${fixed(metrics.accuracy, 4)}</strong>, 95% Wilson interval [<span id="test-accuracy-ci-low">${fixed(metrics.accuracy_ci95[0], 4)}</span>, <span id="test-accuracy-ci-high">${fixed(metrics.accuracy_ci95[1], 4)}</span>]; macro F1 <strong>${fixed(metrics.macro_f1, 4)}</strong>, weighted F1 ${fixed(metrics.weighted_f1, 4)}.</p>
<h3>Classification report</h3>
${table(['', 'precision', 'recall', 'f1-score', 'support'], reportRows, [false, true, true, true, true], (i) => (i === firstAverage ? 'total' : ''))}
${notes}
<details><summary>As text (scikit-learn layout)</summary><pre>${esc(formatClassificationReport(report))}</pre></details>
<h3>Confusion matrices</h3>
<p class="sub">Rows are true classes, columns predicted classes.</p>
<div class="charts">${figure(assets.charts['confusion-matrix'], 'confusion-matrix', 'Confusion matrix, counts')}${figure(assets.charts['confusion-matrix-normalised'], 'confusion-matrix-normalised', 'Confusion matrix, each row divided by its class size')}</div>
<h3>Most confused pairs</h3>${pairsTable}
<h3>Worst misclassified test images</h3>
<p class="sub">Misclassified images predicted most confidently; probabilities in parentheses.</p>
${gallery}
</section>`;
}

function provenanceSection(data: RunReportData): string {
  if (data.stages.length === 0) return '<section id="provenance"><h2>Provenance</h2><p class="empty">No stage records.</p></section>';
  const seconds = (t: Record<string, number> | undefined) => (t ? Object.values(t).reduce((a, b) => a + b, 0) : undefined);
  const overview = table(['stage', 'cache key', 'backend', 'seconds'], data.stages.map((s) => {
    const total = seconds(s.timings);
    return [esc(s.stage), `<span class="mono">${esc(s.key)}</span>`, esc(s.backend ?? ''), total === undefined ? '' : fixed(total, 3)];
  }), [false, false, false, true]);
  const record = <V>(title: string, r: Record<string, V> | undefined, format: (v: V) => string, numeric: boolean) =>
    r && Object.keys(r).length > 0
      ? `<div><h4>${esc(title)}</h4>${table(['name', 'value'], Object.entries(r).map(([k, v]) => [esc(k), format(v)]), [false, numeric])}</div>`
      : '';
  const stages = data.stages.map((s) => {
    const outputs = s.outputs && s.outputs.length > 0
      ? `<h4>Outputs</h4>${table(['file', 'bytes', 'sha256'], s.outputs.map((o) => [`<span class="mono">${esc(o.file)}</span>`, String(o.bytes), `<span class="mono">${esc(o.sha256)}</span>`]), [false, true, false])}`
      : '';
    return `<div class="stage" data-stage="${esc(s.stage)}"><h3>${esc(s.stage)} <span class="sub mono">${esc(s.key)}</span></h3>
<div class="stage-body"><div class="params"><h4>Parameters</h4><pre>${esc(json(s.params))}</pre></div>
${record('Inputs', s.inputs, (v) => `<span class="mono">${esc(v)}</span>`, false)}
${record('Timings (seconds)', s.timings, (v) => fixed(v, 3), true)}
${record('Versions', s.versions, esc, false)}</div>
${outputs}</div>`;
  });
  return `<section id="provenance"><h2>Provenance</h2>${overview}\n${stages.join('\n')}</section>`;
}

/** The backend the model ran on: the train stage's if recorded, else the first stage that names one. */
function runBackend(data: RunReportData): string {
  return data.stages.find((s) => s.stage === 'train' && s.backend)?.backend ?? data.stages.find((s) => s.backend)?.backend ?? 'unknown';
}

/** Test-time augmentation's figure, beside the plain one, when the run has it. */
function ttaNote(metrics: RunReportData['metrics']): string {
  return metrics.tta ? `; with mirror test-time augmentation <span id="test-accuracy-tta">${fixed(metrics.tta.accuracy, 4)}</span>` : '';
}

export function renderRunReport(data: RunReportData, assets: RunReportAssets): string {
  const { metrics } = data;
  const [lo, hi] = metrics.accuracy_ci95;
  const summary = `<header class="summary">
<h1>${esc(data.experiment)}</h1>
<div class="sub">run <span class="mono" id="run-id">${esc(data.run)}</span> · created ${esc(data.createdAt)}</div>
<nav><a href="#dataset">Dataset</a><a href="#augmentation">Augmentation</a><a href="#training">Training</a><a href="#test">Test</a><a href="#provenance">Provenance</a></nav>
<div class="tiles">
${tile('Test accuracy', `<span id="test-accuracy">${fixed(metrics.accuracy, 4)}</span>`, `95% CI [${fixed(lo, 4)}, ${fixed(hi, 4)}] (Wilson)${ttaNote(metrics)}`)}
${tile('Macro F1', `<span id="macro-f1">${fixed(metrics.macro_f1, 4)}</span>`, `weighted F1 ${fixed(metrics.weighted_f1, 4)}`)}
${tile('Epochs', `<span id="epochs">${data.history.length}</span>`, data.bestEpoch !== undefined ? `best epoch ${data.bestEpoch}` : '')}
${tile('Backend', `<span id="backend">${esc(runBackend(data))}</span>`)}
${tile('Test images', String(metrics.n), `${data.classes.length} classes`)}
</div>
</header>`;
  return page(`${data.experiment} — ${data.run}`, [
    summary,
    datasetSection(data, assets.charts),
    augmentationSection(data),
    trainingSection(data, assets.charts),
    testSection(data, assets),
    provenanceSection(data),
  ].join('\n'));
}

export function renderComparison(runs: ComparedRun[], charts: Partial<Record<ComparisonChartName, RenderedChart>>): string {
  const bestAccuracy = Math.max(...runs.map((r) => r.accuracy));
  const rows = runs.map((r) => [
    `<span class="mono">${esc(r.run)}</span>`, esc(r.experiment),
    `<span data-accuracy>${fixed(r.accuracy, 4)}</span>`, fixed(r.macroF1, 4),
    r.history.length > 0 ? fixed(Math.max(...r.history.map((h) => h.val_accuracy)), 4) : '',
    String(r.epochs), fixed(r.wallSeconds, 1),
  ]);
  const body = `<header class="summary"><h1>Run comparison</h1><div class="sub">${runs.length} runs; best test accuracy highlighted</div></header>
<section id="runs"><h2>Runs</h2>
${runs.length === 0 ? '<p class="empty">No runs to compare.</p>' : table(['run', 'experiment', 'test accuracy', 'macro F1', 'best val accuracy', 'epochs', 'wall seconds'], rows, [false, false, true, true, true, true, true], (i) => (runs[i]!.accuracy === bestAccuracy ? 'best' : ''))}
<div class="charts">${figure(charts['compare-val-accuracy'], 'compare-val-accuracy', 'Validation accuracy per epoch, all runs')}</div>
</section>`;
  return page('Run comparison', body);
}
