// pevis's pages in a real browser (attention's, and summary's at the end): Debian's Chromium, headless, driven by
// playwright-core. Each test makes a page with the pevis binary from a model
// file of tests/data and uses it as a person would: hover, click, choose.
// Run by CTest (label "browser"); environment: PEVIS_BINARY, PEVIS_TEST_DATA,
// PEVIS_CHROMIUM (default /usr/bin/chromium). Without a browser the tests are
// skipped (exit 77), except under CI, where that fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

const chromiumPath = process.env.PEVIS_CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(chromiumPath)) {
  console.error(`no browser: ${chromiumPath} is missing (scripts/test installs Debian's chromium)`);
  process.exit(process.env.CI ? 1 : 77);
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  console.error(`no playwright-core: run scripts/test, which installs it (npm ci in tests/browser): ${e.message}`);
  process.exit(process.env.CI ? 1 : 77);
}

// CTest runs the cases in a few groups (run.sh FIRST-LAST), each a process
// of its own, so that they spread over the cores; with no range every case runs.
const [firstCase, lastCase] = (process.env.PEVIS_BROWSER_CASES || '0-0').split('-').map(Number);
let cases = 0;
function pageTest(name, body) {
  cases += 1;
  if (!firstCase || (cases >= firstCase && cases <= lastCase)) test(name, body);
}

const pevis = process.env.PEVIS_BINARY;
const data = process.env.PEVIS_TEST_DATA;
assert.ok(pevis && data, 'PEVIS_BINARY and PEVIS_TEST_DATA must be set');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pevis-page-'));
let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: chromiumPath,
    // No sandbox (tests may run as root); nothing that reaches for the network.
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
});
after(async () => {
  await browser?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

// Runs pevis attention into a new folder; returns the folder.
let runs = 0;
function makePage(args, name) {
  const out = path.join(work, `${++runs}-${name}`);
  execFileSync(pevis, ['attention', ...args, '--format', 'html', '--data', 'npy', '-o', out], { stdio: ['ignore', 'ignore', 'pipe'] });
  assert.ok(fs.existsSync(path.join(out, 'attention.html')), 'no attention.html');
  return out;
}

// Opens a page, recording every console message, page error, dialog and request.
async function open(out, name = 'attention.html', viewport = { width: 1300, height: 900 }) {
  const page = await browser.newPage({ viewport });
  const seen = { errors: [], requests: [], dialogs: [] };
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') seen.errors.push(m.text()); });
  page.on('pageerror', (e) => seen.errors.push(e.message));
  page.on('dialog', async (d) => { seen.dialogs.push(d.message()); await d.dismiss(); });
  page.on('request', (r) => seen.requests.push(r.url()));
  const url = 'file://' + path.join(out, name);
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30000 });
  return { page, seen, url };
}

function expectClean({ seen, url }) {
  assert.deepEqual(seen.errors, [], 'console errors');
  assert.deepEqual(seen.dialogs, [], 'dialogs');
  assert.deepEqual(seen.requests.filter((r) => r !== url), [], 'requests besides the page itself');
}

// A .npy file of float32 (as pevis writes them): its shape and values.
function readNpy(file) {
  const bytes = fs.readFileSync(file);
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  assert.match(header, /'descr': '<f4'/);
  const shape = header.match(/'shape': \((\d+), (\d+)\)/).slice(1).map(Number);
  const body = bytes.subarray(10 + headerLength);
  const values = new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.length));
  return { rows: shape[0], cols: shape[1], values };
}

async function openThumb(page, site, head) {
  await page.click(`#tab-model`);
  await page.click(`canvas.thumb[data-site="${site}"][data-head="${head}"]`);
}

// Hovers cell (r, c) of the matrix view with the mouse; returns the readout.
async function hover(page, r, c) {
  const at = await page.evaluate(([r, c]) => window.pevis.cellCentre(r, c), [r, c]);
  await page.mouse.move(at.x, at.y);
  return page.$eval('#readout', (o) => ({ text: o.textContent, query: o.dataset.query, key: o.dataset.key, value: o.dataset.value }));
}

// The readout of every given cell equals the .npy value: the number kept for
// it, and the number it shows, read back as float32.
async function expectReadoutsEqual(page, npy, cells) {
  for (const [r, c] of cells) {
    const readout = await hover(page, r, c);
    assert.equal(Number(readout.query), r);
    assert.equal(Number(readout.key), c);
    const want = npy.values[r * npy.cols + c];
    assert.equal(Number(readout.value), want, `cell ${r},${c}: ${readout.text}`);
    if (want === 0) {
      assert.match(readout.text, /0 \(masked\)$/);
    } else {
      const shown = Number(readout.text.slice(readout.text.lastIndexOf(': ') + 2));
      assert.equal(Math.fround(shown), want, `cell ${r},${c} shows ${readout.text}`);
    }
  }
}

// How many colours a PNG screenshot holds (8-bit RGB or RGBA, not interlaced).
function distinctColours(png) {
  const width = png.readUInt32BE(16), height = png.readUInt32BE(20), type = png[25];
  const channels = type === 6 ? 4 : 3;
  const parts = [];
  for (let at = 8; at < png.length;) {
    const length = png.readUInt32BE(at), kind = png.toString('latin1', at + 4, at + 8);
    if (kind === 'IDAT') parts.push(png.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  const raw = zlib.inflateSync(Buffer.concat(parts));
  const stride = width * channels, colours = new Set();
  let prior = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)], line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? line[i - channels] : 0, b = prior[i], c = i >= channels ? prior[i - channels] : 0;
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const predicted = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter];
      line[i] = (line[i] + predicted) & 255;
    }
    for (let x = 0; x < width; x += 2) colours.add(line.readUIntBE(x * channels, 3));
    prior = line;
  }
  return colours.size;
}

pageTest('an encoder page opens offline, and its matrix view reads the exact weights of the data files', async () => {
  const out = makePage([`${data}/attn_encoder_causal.pt`, '--input', `${data}/seq.txt`, '--vocab', `${data}/vocab.txt`], 'encoder');
  const opened = await open(out);
  const { page } = opened;
  assert.equal(await page.$$eval('canvas.thumb', (t) => t.length), 8, '2 sites x 4 heads');
  assert.match(await page.textContent('#view-title'), /^Model view: 2 sites × 4 heads/);
  // Clicking a thumbnail opens that head.
  await openThumb(page, 1, 2);
  assert.equal(await page.getAttribute('body', 'data-view'), 'matrix');
  assert.equal(await page.textContent('#view-title'), 'Matrix view: encoder.layers.1.self_attn, head 2');
  const npy = readNpy(path.join(out, 'attention/encoder.layers.1.self_attn.head2.npy'));
  assert.deepEqual([npy.rows, npy.cols], [13, 13]);
  await expectReadoutsEqual(page, npy, [[0, 0], [5, 3], [12, 12], [12, 0], [7, 6], [0, 5]]);
  const readout = await hover(page, 5, 3);
  assert.match(readout.text, /^query 5 “mat” → key 3 “on”: /, 'token labels in the readout');
  // Another head, chosen above: another map.
  await page.click('#heads .chip[data-head="0"]');
  assert.equal(await page.textContent('#view-title'), 'Matrix view: encoder.layers.1.self_attn, head 0');
  await expectReadoutsEqual(page, readNpy(path.join(out, 'attention/encoder.layers.1.self_attn.head0.npy')), [[4, 2], [11, 9]]);
  const shot = await page.screenshot();
  assert.ok(distinctColours(shot) > 30, 'the screenshot is nearly blank');
  expectClean(opened);
  await page.close();
});

pageTest('in the head view, holding or hovering a token keeps only its lines', async () => {
  const out = makePage([`${data}/attn_encoder_causal.pt`, '--input', `${data}/seq.txt`, '--vocab', `${data}/vocab.txt`], 'heads');
  const opened = await open(out);
  const { page } = opened;
  await page.click('#tab-head');
  const lines = () => page.$eval('#head-canvas', (c) => Number(c.dataset.lines));
  const all = await lines();
  assert.ok(all > 13, `lines of every query: ${all}`);
  assert.equal(await page.$$eval('#queries .tok', (t) => t.map((d) => d.textContent).join(' ')),
    'the cat sat on the mat and she saw a big red ball');
  // Query 0 of a causal encoder sees key 0 only.
  await page.hover('#queries .tok[data-index="0"]');
  assert.equal(await lines(), 1);
  await page.hover('#queries .tok[data-index="6"]');
  const six = await lines();
  assert.ok(six >= 1 && six <= 7 && six !== all, `query 6: ${six}`);
  // Held by a click, it stays when the mouse leaves.
  await page.click('#queries .tok[data-index="6"]');
  await page.mouse.move(5, 5);
  assert.equal(await lines(), six);
  // A key: the queries that attend to it (in a causal map, those after it).
  await page.click('#queries .tok[data-index="6"]');
  await page.hover('#keys .tok[data-index="12"]');
  assert.equal(await lines(), 1);
  // A second head adds its lines.
  await page.mouse.move(5, 5);
  await page.click('#heads .chip[data-head="1"]');
  assert.ok((await lines()) > all, 'two heads draw more lines than one');
  assert.match(await page.textContent('#view-title'), /heads 0, 1$/);
  expectClean(opened);
  await page.close();
});

pageTest('PyTorch 2.6 models: an SDPA block and a torch.export program', async () => {
  const ids = path.join(work, 'ids.txt');
  fs.writeFileSync(ids, '3 1 4 1 5 9 2 6\n');
  const out = makePage([`${data}/torch2/v26_sdpa_causal.pt`, '--input', ids, '--layout', 'batch-first'], 'sdpa');
  const opened = await open(out);
  assert.equal(await opened.page.getAttribute('body', 'data-view'), 'model');
  await openThumb(opened.page, 0, 1);
  await expectReadoutsEqual(opened.page, readNpy(path.join(out, 'attention/model.head1.npy')), [[0, 0], [7, 3], [3, 7], [5, 5]]);
  expectClean(opened);
  await opened.page.close();

  const pt2 = makePage([`${data}/torch2/pt2_encoder.pt2`], 'pt2');
  const program = await open(pt2);
  const name = await program.page.$eval('canvas.thumb[data-site="0"][data-head="0"]', (c) => c.title.replace(/, head 0$/, ''));
  await openThumb(program.page, 0, 0);
  const npy = readNpy(path.join(pt2, `attention/${name}.head0.npy`));
  await expectReadoutsEqual(program.page, npy, [[0, 0], [npy.rows - 1, npy.cols - 1], [1, 0]]);
  expectClean(program);
  await program.page.close();
});

pageTest('torchvision ViT (traced by PyTorch 2.6, a batch of two): every input, every head', async () => {
  const out = makePage([`${data}/torch2/v26_vit_trace_nograd_b2.pt`, '--input-shape', '2,3,32,32', '--batch-index', '1'], 'vit');
  const opened = await open(out);
  const { page } = opened;
  assert.equal(await page.$$eval('canvas.thumb', (t) => t.length), 8);
  await openThumb(page, 1, 3);
  assert.equal(await page.$eval('#input', (s) => s.value), '1', 'the page opens on --batch-index');
  const npy = readNpy(path.join(out, 'attention/encoder.layers.encoder_layer_1.self_attention.head3.npy'));
  await expectReadoutsEqual(page, npy, [[0, 0], [16, 16], [3, 9]]);
  // The other input shows other weights.
  const before = (await hover(page, 3, 9)).value;
  await page.selectOption('#input', '0');
  assert.notEqual((await hover(page, 3, 9)).value, before);
  expectClean(opened);
  await page.close();
});

pageTest('torchvision Swin: a window chosen, or the mosaic of all', async () => {
  const out = makePage([`${data}/positions/swin_tiny.scripted.pt`, '--input-shape', '2,3,16,16', '--batch-index', '1'], 'swin');
  const opened = await open(out);
  const { page } = opened;
  await openThumb(page, 1, 1);
  assert.equal(await page.textContent('#view-title'), 'Matrix view: features.1.1.attn, head 1');
  assert.equal(await page.$eval('#window', (s) => s.value), 'mosaic');
  assert.equal(await page.$$eval('#window option', (o) => o.length), 17, 'the mosaic and 16 windows');
  // The data has a row per window and query (window:query), of input 1.
  const npy = readNpy(path.join(out, 'attention/features.1.1.attn.head1.npy'));
  assert.deepEqual([npy.rows, npy.cols], [64, 4]);
  await page.selectOption('#window', '5');
  for (const [q, k] of [[0, 0], [2, 3], [3, 1]]) {
    const readout = await hover(page, q, k);
    assert.equal(Number(readout.value), npy.values[(5 * 4 + q) * 4 + k], readout.text);
    assert.match(readout.text, /^window 5, query /);
  }
  // In the mosaic (4x4 windows of 4x4), window 5 is grid row 1, column 1.
  await page.selectOption('#window', 'mosaic');
  const readout = await hover(page, 4 + 2, 4 + 3);
  assert.equal(Number(readout.value), npy.values[(5 * 4 + 2) * 4 + 3], readout.text);
  expectClean(opened);
  await page.close();
});

pageTest('torchvision Swin V2 traced by PyTorch 2.6, in a smaller window: every view of every site draws', async () => {
  // At 1000x600 the colour bar's length is fractional: it once ran past the palette.
  const out = makePage([`${data}/corpus/swin_v2_trace.pt`, '--input-shape', '1,3,32,32'], 'swin-v2');
  const opened = await open(out, 'attention.html', { width: 1000, height: 600 });
  const { page } = opened;
  const thumbs = await page.$$eval('canvas.thumb', (t) => t.map((c) => [c.dataset.site, c.dataset.head]));
  assert.equal(thumbs.length, 12, '2 + 2 + 4 + 4 heads');
  for (const [site, head] of thumbs) {
    await openThumb(page, site, head);
    assert.equal(await page.getAttribute('body', 'data-view'), 'matrix');
    await page.click('#tab-head');
    assert.ok(Number(await page.$eval('#head-canvas', (c) => c.dataset.lines)) > 0, `site ${site} head ${head}`);
  }
  const name = await page.$eval('canvas.thumb[data-site="0"][data-head="1"]', (c) => c.title.replace(/, head 1$/, ''));
  await openThumb(page, 0, 1);
  await page.selectOption('#window', '2');
  const npy = readNpy(path.join(out, `attention/${name}.head1.npy`));
  const t = npy.cols;  // a row per window and query: windows of t tokens
  for (const [q, k] of [[0, 0], [t - 1, 3], [5, t - 1]]) {
    assert.equal(Number((await hover(page, q, k)).value), npy.values[(2 * t + q) * t + k]);
  }
  expectClean(opened);
  await page.close();
});

pageTest('cross-attention: learned queries and the tokens, each with their own labels', async () => {
  const ids = path.join(work, 'cross_ids.txt');
  fs.writeFileSync(ids, '3 1 4 1 5 9 2 6 5 3 5\n');
  const out = makePage([`${data}/corpus/cross_attention.pt`, '--input', ids], 'cross');
  const opened = await open(out);
  const { page } = opened;
  await openThumb(page, 0, 2);
  assert.equal(await page.textContent('#view-title'), 'Matrix view: cross_attn, head 2');
  const npy = readNpy(path.join(out, 'attention/cross_attn.head2.npy'));
  assert.deepEqual([npy.rows, npy.cols], [6, 11]);
  await expectReadoutsEqual(page, npy, [[0, 0], [5, 10], [2, 5]]);
  assert.match((await hover(page, 2, 5)).text, /^query 2 → key 5 “9”: /, 'queries by index, keys by token');
  await page.click('#tab-head');
  assert.equal(await page.$$eval('#queries .tok', (t) => t.length), 6);
  assert.equal(await page.$$eval('#keys .tok', (t) => t.map((d) => d.textContent).join(' ')), '3 1 4 1 5 9 2 6 5 3 5');
  expectClean(opened);
  await page.close();
});

pageTest('hostile token text is shown as written and runs nothing', async () => {
  const hostile = ['</script><script>window.__pwned=1;alert(1)</script>', '<img/src=x/onerror=alert(2)>',
    '"q"', "it's", '`id`', '${alert(3)}', '<!--', 'a\u2028b', 'c\u2029d', '&amp;', 'naïve', '</style>'];
  let vocab = '';
  for (let i = 0; i < 40 - hostile.length; i++) vocab += `w${i}\n`;
  vocab += hostile.join('\n') + '\n';
  fs.writeFileSync(path.join(work, 'hostile_vocab.txt'), vocab);
  fs.writeFileSync(path.join(work, 'hostile_seq.txt'), hostile.join(' ') + ' w1\n');
  const out = makePage([`${data}/word_lm.pt`, '--input', path.join(work, 'hostile_seq.txt'), '--vocab',
    path.join(work, 'hostile_vocab.txt')], 'hostile');
  const html = fs.readFileSync(path.join(out, 'attention.html'), 'utf8');
  assert.equal(html.match(/<script/g).length, html.match(/<\/script>/g).length);
  const opened = await open(out);
  const { page } = opened;
  await page.click('#tab-head');
  const shown = await page.$$eval('#queries .tok', (t) => t.map((d) => d.textContent));
  assert.deepEqual(shown, [...hostile, 'w1']);
  await page.hover('#queries .tok[data-index="1"]');
  await page.click('#tab-matrix');
  assert.match((await hover(page, 0, 1)).text, /^query 0 “<\/script><script>window.__pwned=1;alert\(1\)<\/script>” → key 1 “<img\/src=x\/onerror=alert\(2\)>”: /);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.equal(await page.$$eval('img', (i) => i.length), 0);
  expectClean(opened);
  await page.close();
});

pageTest('a page over its budget stores 8-bit weights in blocks, says so, and reads within the stated error', async () => {
  const ids = path.join(work, 'long_ids.txt');
  fs.writeFileSync(ids, Array.from({ length: 600 }, (_, i) => (i * 7) % 50).join(' ') + '\n');
  const out = makePage([`${data}/corpus/llama.pt`, '--input', ids, '--layout', 'batch-first', '--page-budget', '1'], 'budget');
  assert.ok(fs.statSync(path.join(out, 'attention.html')).size <= 1e6, 'the page keeps its budget');
  const opened = await open(out);
  const { page } = opened;
  await openThumb(page, 0, 1);
  const notes = await page.textContent('#notes');
  assert.match(notes, /stored in 8 bits/);
  const block = Number(notes.match(/shown in blocks of (\d+) × \1 positions/)[1]);
  assert.ok(block >= 2, notes);
  const site = await page.evaluate(() => ({ unit: window.pevis.data.sites[0].unit, name: window.pevis.data.sites[0].name }));
  const npy = readNpy(path.join(out, `attention/${site.name}.head1.npy`));
  for (const [r, c] of [[0, 0], [10, 3], [Math.floor(599 / block), Math.floor(599 / block)]]) {
    const readout = await hover(page, r, c);
    let sum = 0, n = 0;
    for (let i = r * block; i < Math.min(600, (r + 1) * block); i++) {
      for (let j = c * block; j < Math.min(600, (c + 1) * block); j++) { sum += npy.values[i * 600 + j]; n++; }
    }
    const mean = sum / n, shown = Number(readout.value);
    if (Math.abs(shown - site.unit) < site.unit * 1e-6) {
      // The smallest code: above 0, under one and a half units.
      assert.match(readout.text, /≈ .* \(above 0, under /);
      assert.ok(mean > 0 && mean < 1.5 * site.unit, `${readout.text} vs ${mean}`);
    } else {
      assert.match(readout.text, /≈ .* \(±/);
      assert.ok(Math.abs(shown - mean) <= site.unit / 2 + 1e-6, `${readout.text} vs ${mean}`);
    }
  }
  expectClean(opened);
  await page.close();
});

// --- pevis summary --format html ---------------------------------------------

function makeSummaryPage(args, name) {
  const out = path.join(work, `${++runs}-${name}`);
  execFileSync(pevis, ['summary', ...args, '--format', 'html', '-o', out], { stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}

// summary.csv as rows of objects (no field of these fixtures holds a comma but the shapes, which are quoted).
function readSummaryCsv(file) {
  const lines = fs.readFileSync(file, 'utf8').trim().split(/\r?\n/);
  const split = (line) => [...line.matchAll(/("([^"]|"")*"|[^,]*)(,|$)/g)].map((m) => m[1].replace(/^"|"$/g, '').replace(/""/g, '"')).slice(0, -1);
  const head = split(lines[0]);
  return lines.slice(1).map((l) => Object.fromEntries(split(l).map((v, i) => [head[i], v])));
}

pageTest('the summary page folds, sorts within each parent, filters, and shows the numbers of summary.csv', async () => {
  const out = makeSummaryPage([`${data}/attn_transformer.pt`, '--input', `${data}/seq.txt`, '--vocab', `${data}/vocab.txt`], 'summary');
  const csv = readSummaryCsv(path.join(out, 'summary.csv'));
  const opened = await open(out, 'summary.html');
  const { page } = opened;
  const shown = () => page.$$eval('#rows tr', (t) => t.map((r) => r.dataset.path));
  const initially = await shown();
  assert.ok(initially.length > 3 && initially.length < csv.length, `open to --depth: ${initially.length} of ${csv.length}`);
  await page.click('#expand');
  assert.deepEqual(await shown(), csv.map((r) => r.path), 'unfolded, in the tree order of summary.csv');
  // Every module's numbers are summary.csv's.
  const cells = await page.$$eval('#rows tr', (t) => t.map((r) => [...r.children].map((c) => c.textContent)));
  cells.forEach((row, i) => {
    assert.equal(row[2].replaceAll(',', ''), csv[i].params, csv[i].path);
    assert.equal(row[4].replaceAll(',', ''), csv[i].mult_adds, csv[i].path);
  });
  // Folding the root leaves the root.
  await page.click('#rows tr[data-path=""] .toggle');
  assert.deepEqual(await shown(), ['']);
  await page.click('#rows tr[data-path=""] .toggle');
  // Sorted by parameters, largest first: transformer (5,632) before embed (320).
  await page.click('#columns button[data-key="params"]');
  const sorted = await shown();
  assert.ok(sorted.indexOf('transformer') < sorted.indexOf('embed'), sorted.join(' '));
  assert.match(await page.textContent('#sorted'), /Params, largest first/);
  await page.click('#columns button[data-key="params"]');
  const ascending = await shown();
  assert.ok(ascending.indexOf('embed') < ascending.indexOf('transformer'));
  // A filter keeps the matches and their ancestors.
  await page.fill('#filter', 'multihead');
  const filtered = await shown();
  assert.ok(filtered.includes('transformer.decoder.layers.0.multihead_attn'), filtered.join(' '));
  assert.ok(filtered.includes('transformer.decoder') && !filtered.includes('embed'), filtered.join(' '));
  expectClean(opened);
  await page.close();
});

pageTest('hostile tensor names in a weight file are shown as written on the summary page', async () => {
  // A safetensors file whose tensor names would be markup or script if they were parsed.
  const names = ['</script><script>window.__pwned=1</script>.weight', '<img/src=x/onerror=window.__pwned=2>.bias',
    'a\u2028b.`x`.weight', "it's.\"q\".weight"];
  const header = {};
  names.forEach((n, i) => { header[n] = { dtype: 'F32', shape: [2], data_offsets: [i * 8, i * 8 + 8] }; });
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const file = path.join(work, 'hostile.safetensors');
  fs.writeFileSync(file, Buffer.concat([length, json, Buffer.alloc(names.length * 8)]));
  const out = makeSummaryPage([file], 'hostile-summary');
  const opened = await open(out, 'summary.html');
  const { page } = opened;
  await page.click('#expand');
  const labels = await page.$$eval('#rows .label', (l) => l.map((e) => e.textContent));
  for (const part of ['</script><script>window', '<img/src=x/onerror=window', 'a\u2028b', "it's"]) {
    assert.ok(labels.some((l) => l.startsWith(part)), `${part} in ${JSON.stringify(labels)}`);
  }
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.equal(await page.$$eval('img', (i) => i.length), 0);
  expectClean(opened);
  await page.close();
});

// A range past the last case is a mistake, not a pass with nothing run.
if (firstCase > cases) {
  console.error(`no case ${firstCase}: page_test.mjs has ${cases}`);
  process.exit(1);
}
