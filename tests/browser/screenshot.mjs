// Screenshots of an attention page in headless Chromium, for the README
// (scripts/readme-figures): the view asked for, after the steps given.
//   node screenshot.mjs PAGE.html OUT.png [--open SITE,HEAD] [--view model|head|matrix]
//                       [--hold-query N] [--hover-cell R,C] [--heads H,H...] [--size WxH]
import { chromium } from 'playwright-core';
import path from 'node:path';

const [file, out, ...steps] = process.argv.slice(2);
const option = (name) => { const i = steps.indexOf(name); return i < 0 ? undefined : steps[i + 1]; };
const [width, height] = (option('--size') || '1300x800').split('x').map(Number);
const browser = await chromium.launch({
  executablePath: process.env.PEVIS_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic', '--force-device-scale-factor=1'],
});
const page = await browser.newPage({ viewport: { width, height } });
const errors = [];
page.on('pageerror', (e) => errors.push(e.message));
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
await page.goto('file://' + path.resolve(file));
await page.waitForSelector('body[data-ready="true"]');
if (option('--open')) {
  const [site, head] = option('--open').split(',');
  await page.click(`canvas.thumb[data-site="${site}"][data-head="${head}"]`);
}
if (option('--view')) await page.click('#tab-' + option('--view'));
if (option('--heads')) {
  for (const h of option('--heads').split(',')) await page.click(`#heads .chip[data-head="${h}"]`);
}
if (option('--hold-query')) await page.click(`#queries .tok[data-index="${option('--hold-query')}"]`);
if (option('--hover-cell')) {
  const [r, c] = option('--hover-cell').split(',').map(Number);
  const at = await page.evaluate(([r, c]) => window.pevis.cellCentre(r, c), [r, c]);
  await page.mouse.move(at.x, at.y);
} else {
  await page.mouse.move(width - 2, height - 2);
}
await page.screenshot({ path: out });
await browser.close();
if (errors.length) {
  console.error(errors.join('\n'));
  process.exit(1);
}
