/**
 * Opens a written report in headless Chromium from disk (file://) and checks what a reader sees:
 * no console errors, no failed or network requests, every chart drawn with a size, the accuracy text.
 */
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { writeRunReport } from '../src/render.ts';
import { writeSyntheticRun } from './fixture.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = process.env.SKIP_BROWSER_TESTS === '1';

describe.skipIf(skip)('report.html in headless Chromium', () => {
  it('renders offline with every chart visible and the test accuracy as text', async () => {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) or set SKIP_BROWSER_TESTS=1`);
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-browser-'));
    const data = await writeSyntheticRun(dir);
    const { html } = await writeRunReport(path.join(dir, 'out'), data);

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('requestfailed', (r) => problems.push(`request failed: ${r.url().slice(0, 80)} ${r.failure()?.errorText ?? ''}`));
      page.on('request', (r) => { if (!r.url().startsWith('data:')) requests.push(r.url()); });

      await page.goto(pathToFileURL(html).href, { waitUntil: 'load' });
      expect(problems).toEqual([]);
      expect(requests).toEqual([pathToFileURL(html).href]); // only the page itself

      const figures = await page.$$eval('figure', (nodes) => nodes.map((f) => {
        const media = f.querySelector('img, svg');
        const box = media?.getBoundingClientRect();
        const img = media instanceof HTMLImageElement ? media : null;
        return { chart: f.getAttribute('data-chart'), width: box?.width ?? 0, height: box?.height ?? 0, decoded: img ? img.complete && img.naturalWidth > 0 : true };
      }));
      expect(figures.map((f) => f.chart).sort()).toEqual([
        'accuracy-curve', 'augment-preview', 'class-counts', 'class-share', 'confusion-matrix', 'confusion-matrix-normalised', 'loss-curve',
      ]);
      for (const f of figures) {
        expect(f.decoded, `${f.chart} image decodes`).toBe(true);
        expect(f.width, `${f.chart} width`).toBeGreaterThan(0);
        expect(f.height, `${f.chart} height`).toBeGreaterThan(0);
      }
      // 14 of the 20 synthetic test images are classified correctly.
      expect(await page.textContent('#test-accuracy')).toBe('0.7000');
      expect(await page.title()).toContain('small-cnn <aug> & friends');
    } finally {
      await browser.close();
    }
  });
});
