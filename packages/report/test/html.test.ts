import { describe, it, expect, beforeAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { escapeHtml, renderRunReport } from '../src/html.ts';
import { writeComparisonReport, writeRunReport } from '../src/render.ts';
import type { ComparedRun } from '../src/types.ts';
import { writeSyntheticRun } from './fixture.ts';

describe('escapeHtml', () => {
  it('escapes the five HTML-special characters and keeps unicode', () => {
    expect(escapeHtml(`a<b>&"c"'d' ü`)).toBe('a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39; ü');
  });
});

describe('writeRunReport', () => {
  let outDir: string;
  let html: string;
  let charts: string[];

  beforeAll(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-html-'));
    const data = await writeSyntheticRun(dir);
    outDir = path.join(dir, 'out');
    const written = await writeRunReport(outDir, data);
    html = fs.readFileSync(written.html, 'utf8');
    charts = written.charts;
  });

  it('writes report.html and each chart as svg and png, leaving no temporary files', async () => {
    const expected = ['report.html', ...charts.flatMap((c) => [`${c}.svg`, `${c}.png`])].sort();
    expect(fs.readdirSync(outDir).sort()).toEqual(expected);
    expect(charts).toHaveLength(6);
    for (const c of charts) {
      const meta = await sharp(path.join(outDir, `${c}.png`)).metadata();
      expect(meta.width).toBeGreaterThan(0);
      expect(meta.height).toBeGreaterThan(0);
    }
  });

  it('carries the numbers as text: 14 of 20 correct', () => {
    expect(html).toContain('<span id="test-accuracy">0.7000</span>');
    expect(html).toContain('<span id="report-accuracy">0.7000</span>');
  });

  it('escapes every text it shows', () => {
    expect(html).toContain('small-cnn &lt;aug&gt; &amp; friends');
    expect(html).not.toContain('<aug>');
    expect(html).not.toContain('<script');
    expect(html).toContain(escapeHtml('"note": "<script>alert(1)</script>"'));
    expect(html).toContain('tulip &lt;b&gt;&amp;&quot;ü&#39;.jpg');
    expect(html).toContain('/data/rose/broken &lt;1&gt;.jpg');
  });

  it('shows thumbnails for readable images and placeholders for missing or broken ones', () => {
    // Six misclassified images; one path was never written and one holds no image.
    expect(html.match(/<div class="item">/g)).toHaveLength(6);
    expect(html.match(/class="placeholder"/g)).toHaveLength(2);
    expect(html.match(/src="data:image\/jpeg;base64,/g)).toHaveLength(4);
  });

  it('is self-contained: nothing loaded from a URL', () => {
    expect(html).not.toMatch(/(src|href)="(?!data:|#)/);
    expect(html).not.toMatch(/<script|<link/);
    expect(html).toContain('data:image/png;base64,'); // the augmentation grid
  });
});

describe('writeComparisonReport', () => {
  it('writes a page with every run and the overlaid curves', async () => {
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-compare-'));
    const history = [1, 2].map((epoch) => ({ epoch, loss: 1, accuracy: 0.5, val_loss: 1, val_accuracy: 0.4 + 0.1 * epoch }));
    const runs: ComparedRun[] = [
      { run: 'r1', experiment: 'small <cnn>', accuracy: 0.61234, macroF1: 0.6, epochs: 2, wallSeconds: 12.34, history },
      { run: 'r2', experiment: 'inception', accuracy: 0.8, macroF1: 0.79, epochs: 2, wallSeconds: 99, history },
    ];
    const written = await writeComparisonReport(outDir, runs);
    expect(written.charts).toEqual(['compare-val-accuracy']);
    expect(fs.readdirSync(outDir).sort()).toEqual(['compare-val-accuracy.png', 'compare-val-accuracy.svg', 'report.html']);
    const html = fs.readFileSync(written.html, 'utf8');
    expect(html).toContain('small &lt;cnn&gt;');
    expect(html).toContain('<span data-accuracy>0.6123</span>');
    expect(html.match(/<tr class="best">/g)).toHaveLength(1);
    expect(fs.readFileSync(path.join(outDir, 'compare-val-accuracy.svg'), 'utf8')).toContain('inception');
  });
});

describe('renderRunReport of a two-phase fine-tuning', () => {
  it('says which epochs trained the head alone and where fine-tuning began', async () => {
    const data = await writeSyntheticRun(fs.mkdtempSync(path.join(os.tmpdir(), 'report-phases-')));
    const phased = { ...data, history: data.history.map((h, i) => ({ ...h, phase: i < 3 ? ('head' as const) : ('finetune' as const) })) };
    expect(renderRunReport(phased, { charts: {}, gallery: [] })).toContain(
      "<p id=\"phases\">Epochs 1 to 3 trained the head alone on the base's features; from epoch 4 the top of the base fine-tuned with it.</p>",
    );
    expect(renderRunReport(data, { charts: {}, gallery: [] })).not.toContain('id="phases"');
  });
});
