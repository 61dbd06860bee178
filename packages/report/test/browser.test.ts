/**
 * Opens a written report in headless Chromium from disk (file://) and checks what a reader sees:
 * no console errors, no failed or network requests, every chart drawn with a size, the accuracy text.
 */
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { writeRunReport } from '../src/render.ts';
import { writeSyntheticRun } from './fixture.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = process.env.SKIP_BROWSER_TESTS === '1';

async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) or set SKIP_BROWSER_TESTS=1`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// Twenty names from the Oxford 102 flowers.
const MANY_CLASSES = [
  'alpine sea holly', 'anthurium', 'artichoke', 'azalea', 'ball moss', 'balloon flower', 'barbeton daisy', 'bearded iris', 'bee balm', 'bird of paradise',
  'bishop of llandaff', 'black-eyed susan', 'blackberry lily', 'blanket flower', 'bolero deep blue', 'bougainvillea', 'bromelia', 'buttercup', 'californian poppy', 'camellia',
];

interface Box { text: string; left: number; right: number; top: number; bottom: number }

const overlaps = (a: Box, b: Box): boolean => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

describe.skipIf(skip)('report.html in headless Chromium', () => {
  it('renders offline with every chart visible and the test accuracy as text', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-browser-'));
    const data = await writeSyntheticRun(dir);
    const { html } = await writeRunReport(path.join(dir, 'out'), data);

    const browser = await launchChromium();
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
  it('keeps the x-axis labels of the class charts whole, apart and inside the picture with 20 long class names', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-labels-'));
    const out = path.join(dir, 'out');
    await writeRunReport(out, await writeSyntheticRun(dir, MANY_CLASSES));
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      for (const chart of ['class-counts', 'confusion-matrix', 'confusion-matrix-normalised']) {
        // The SVG the report embeds, opened on its own so its text elements can be measured.
        await page.goto(pathToFileURL(path.join(out, `${chart}.svg`)).href, { waitUntil: 'load' });
        const picture = await page.$eval('svg', (svg) => svg.getBoundingClientRect().toJSON() as DOMRect);
        const labels: Box[] = await page.$$eval('g.role-axis[aria-label^="X-axis"] g.role-axis-label text', (nodes) =>
          nodes.map((n) => {
            const { left, right, top, bottom } = n.getBoundingClientRect();
            return { text: n.textContent ?? '', left, right, top, bottom };
          }),
        );
        // Every name drawn in full: none dropped for overlap, none cut short with an ellipsis.
        expect(labels.map((l) => l.text), chart).toEqual(MANY_CLASSES);
        for (const [i, a] of labels.entries()) {
          expect(a.left >= picture.left && a.right <= picture.right && a.top >= picture.top && a.bottom <= picture.bottom, `${chart}: '${a.text}' inside the picture`).toBe(true);
          for (const b of labels.slice(i + 1)) expect(overlaps(a, b), `${chart}: '${a.text}' and '${b.text}' overlap`).toBe(false);
        }
      }
    } finally {
      await browser.close();
    }
  });
});
