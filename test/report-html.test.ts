// The HTML report in a real headless Chromium (Debian's chromium driven by puppeteer-core): loaded
// from disk with the network blocked, no console errors, every figure rendered, a screenshot that
// is not blank (skipped, with one line, where Chromium is missing).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import puppeteer from 'puppeteer-core';
import { Resvg } from '@resvg/resvg-js';
import { writeReport } from '../src/commands/report.ts';
import { claimsFromJson } from '../src/report/claims.ts';
import { lmSweep } from './fixtures/report/sweep.ts';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => fs.existsSync(p));
if (!CHROMIUM) console.log('report-html: Chromium not found; skipping the browser test (.ci/run installs chromium)');

describe('HTML report', () => {
  it.skipIf(!CHROMIUM)(
    'renders every figure in Chromium from disk, offline, without console errors',
    async () => {
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seqlab-html-'));
      const lm = lmSweep(tmp);
      const claims = claimsFromJson([{ claim: 'transformer has the lowest valid_bpb', verdict: 'holds' }]);
      const rep = await writeReport([lm], { formats: ['html'], plots: false, png: false, band: 'std', claims });
      const file = path.join(rep.dir, 'index.html');
      const html = fs.readFileSync(file, 'utf8');
      expect(html).not.toMatch(/<script[^>]+src=/); // everything inlined
      const browser = await puppeteer.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
      });
      try {
        const page = await browser.newPage();
        const errors: string[] = [];
        const requests: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(m.text());
        });
        page.on('pageerror', (e) => errors.push(String(e)));
        await page.setRequestInterception(true);
        page.on('request', (req) => {
          if (!req.url().startsWith('file:')) {
            requests.push(req.url());
            void req.abort();
          } else void req.continue();
        });
        await page.setViewport({ width: 1200, height: 900 });
        await page.goto(`file://${file}`, { waitUntil: 'load' });
        await page.waitForFunction(() => document.body.dataset.rendered !== undefined, { timeout: 30_000 });
        const state = await page.evaluate(() => ({
          rendered: document.body.dataset.rendered,
          count: (window as unknown as { seqlabRendered: number }).seqlabRendered,
          figures: document.querySelectorAll('div.vis').length,
          svgs: [...document.querySelectorAll('div.vis svg')].filter((s) => s.querySelectorAll('path').length > 10).length,
          claims: document.querySelector('#claims td')?.textContent,
        }));
        expect(errors).toEqual([]);
        expect(requests).toEqual([]);
        expect(state.rendered).toBe('yes');
        expect(state.figures).toBeGreaterThanOrEqual(4);
        expect(state.count).toBe(state.figures);
        expect(state.svgs).toBe(state.figures);
        expect(state.claims).toBe('transformer has the lowest valid_bpb');
        const shot = (await page.screenshot({ type: 'png', fullPage: true })) as Uint8Array;
        // Decode via an SVG wrapper so resvg gives the pixels: count pixels that are not background.
        const svg = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="300" height="300"><image width="300" height="300" xlink:href="data:image/png;base64,${Buffer.from(shot).toString('base64')}"/></svg>`;
        const px = new Resvg(svg).render().pixels;
        const colours = new Set<number>();
        let dark = 0;
        for (let i = 0; i < px.length; i += 4) {
          colours.add((px[i]! >> 4) * 256 + (px[i + 1]! >> 4) * 16 + (px[i + 2]! >> 4));
          if (px[i]! < 128) dark++;
        }
        expect(colours.size).toBeGreaterThan(20); // text, lines in several family colours, bands
        expect(dark).toBeGreaterThan(200);
      } finally {
        await browser.close();
      }
    },
    90_000,
  );
});
