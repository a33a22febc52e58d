// Times an attention page in headless Chromium: until it is interactive (its
// script has drawn the first view and set body[data-ready]), and until a
// click on the first thumbnail has drawn the matrix view and a hover has read
// a weight. Prints one JSON line. Used by scripts/bench.
//   node measure.mjs PAGE.html
import { chromium } from 'playwright-core';
import path from 'node:path';

const file = path.resolve(process.argv[2]);
const browser = await chromium.launch({
  executablePath: process.env.PEVIS_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic'],
});
const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
const errors = [];
page.on('pageerror', (e) => errors.push(e.message));
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
const started = Date.now();
await page.goto('file://' + file, { timeout: 600000 });
await page.waitForSelector('body[data-ready="true"]', { timeout: 600000 });
const interactive = (Date.now() - started) / 1000;
const clicked = Date.now();
await page.click('canvas.thumb[data-site="0"][data-head="0"]');
await page.waitForSelector('body[data-view="matrix"]');
// The middle cell: at a fraction of a pixel a side, the first one's centre may round off the map.
const centre = await page.evaluate(() => {
  const site = window.pevis.data.sites[0];
  return window.pevis.cellCentre(Math.floor(site.rows / 2), Math.floor(site.cols / 2));
});
await page.mouse.move(centre.x, centre.y);
await page.waitForSelector('#readout[data-query]');
const opened = (Date.now() - clicked) / 1000;
await browser.close();
console.log(JSON.stringify({ interactive, opened, errors }));
