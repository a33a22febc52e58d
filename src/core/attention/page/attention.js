'use strict';
// pevis's attention page: reads the JSON and base64 parts pevis wrote into
// this file and draws them. Token text is only ever set as text
// (textContent, title, canvas fillText), never parsed as markup.
(function () {
  const $ = (id) => document.getElementById(id);
  const data = JSON.parse($('pevis-data').textContent);
  const sites = data.sites;
  const tokens = data.tokens || [];
  const ROW = 22;  // a token's height in the head view, in CSS pixels
  const HEAD_COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
    '#bcbd22', '#17becf', '#393b79', '#637939', '#8c6d31', '#843c39', '#7b4173', '#3182bd'];
  const MEAN_COLOUR = '#202020';
  const MASKED = [0xd9, 0xd9, 0xd9];
  const MISSING = [0xff, 0xff, 0xff];

  // ---- colours -------------------------------------------------------------
  function hexColour(text) {
    const v = parseInt(text.slice(1), 16);
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  }
  // 256 colours blended linearly between the palette's evenly spaced stops.
  const palette = (function () {
    const stops = data.palette.map(hexColour);
    const out = [];
    for (let i = 0; i < 256; i++) {
      const x = (i / 255) * (stops.length - 1);
      const a = Math.min(Math.floor(x), stops.length - 2);
      const f = x - a;
      out.push(stops[a].map((c, k) => Math.round(c + (stops[a + 1][k] - c) * f)));
    }
    return out;
  })();
  function headColour(h) {
    return h < HEAD_COLOURS.length ? HEAD_COLOURS[h] : 'hsl(' + Math.round((h * 137.5) % 360) + ', 65%, 45%)';
  }
  // Where `v` lies on a site's scale, 0 to 1; NaN for no value.
  function scaled(v, scale) {
    if (Number.isNaN(v)) return NaN;
    let t;
    if (scale.log) {
      const lo = Math.log10(scale.lo), hi = Math.log10(scale.hi);
      t = (Math.log10(Math.max(v, scale.lo)) - lo) / Math.max(hi - lo, 1e-12);
    } else {
      t = (v - scale.lo) / Math.max(scale.hi - scale.lo, 1e-12);
    }
    return Math.min(1, Math.max(0, t));
  }
  function colourOf(v, scale) {
    if (Number.isNaN(v)) return MISSING;
    if (v === 0) return MASKED;
    return palette[Math.round(scaled(v, scale) * 255)];
  }

  // ---- stored weights ------------------------------------------------------
  function bytesOf(id) {
    const text = $(id).textContent;
    const binary = atob(text.trim());
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  }
  const decoded = new Map();  // site index -> Float32Array of every map, the last few sites used
  function siteValues(index) {
    if (decoded.has(index)) return decoded.get(index);
    const site = sites[index];
    const bytes = bytesOf(site.weights);
    let values;
    if (data.precision === 'float32') {
      values = new Float32Array(bytes.buffer, 0, bytes.length / 4);
    } else {
      const wide = data.precision === 'uint16';
      const top = wide ? 65534 : 254;
      const codes = wide ? new Uint16Array(bytes.buffer, 0, bytes.length / 2) : bytes;
      values = new Float32Array(codes.length);
      for (let i = 0; i < codes.length; i++) {
        const c = codes[i];
        values[i] = c === 0 ? 0 : c > top ? NaN : c * site.unit;
      }
    }
    if (decoded.size >= 6) decoded.delete(decoded.keys().next().value);
    decoded.set(index, values);
    return values;
  }
  // One stored map: [rows, cols] of input `input`, window `window`, head `head`.
  function storedMap(index, input, window, head) {
    const site = sites[index];
    const cells = site.rows * site.cols;
    const start = ((input * site.windows + window) * site.heads + head) * cells;
    return siteValues(index).subarray(start, start + cells);
  }
  function meanMap(index, input, window) {
    const site = sites[index];
    const out = new Float32Array(site.rows * site.cols);
    for (let h = 0; h < site.heads; h++) {
      const m = storedMap(index, input, window, h);
      for (let i = 0; i < out.length; i++) out[i] += m[i];
    }
    for (let i = 0; i < out.length; i++) out[i] /= site.heads;
    return out;
  }
  function windowMap(index, input, window, head) {
    return head === 'mean' ? meanMap(index, input, window) : storedMap(index, input, window, head);
  }

  // ---- labels --------------------------------------------------------------
  // The label of stored row/column `i` of a side of `count` positions (blocks of `block`).
  function positionLabel(useTokens, count, block, i) {
    const name = (p) => (useTokens ? tokens[p] : String(p));
    if (block === 1) return name(i);
    const a = i * block, b = Math.min(count, a + block) - 1;
    return a + '\u2013' + b + (useTokens ? ' ' + name(a) + '\u2026' : '');
  }
  function describedPosition(useTokens, count, block, i) {
    if (block === 1) return useTokens ? i + ' \u201c' + tokens[i] + '\u201d' : String(i);
    const a = i * block, b = Math.min(count, a + block) - 1;
    return a + '\u2013' + b + ' (block mean)';
  }

  // What the matrix view shows now: a map with its labels.
  function shownMatrix() {
    const index = state.site, site = sites[index];
    const head = state.head;
    if (site.windows > 1 && state.window === 'mosaic') {
      const [gridRows, gridCols] = site.grid;
      const rows = gridRows * site.rows, cols = gridCols * site.cols;
      const values = new Float32Array(rows * cols).fill(NaN);
      for (let w = 0; w < site.windows; w++) {
        const m = windowMap(index, state.input, w, head);
        const r0 = Math.floor(w / gridCols) * site.rows, c0 = (w % gridCols) * site.cols;
        for (let r = 0; r < site.rows; r++) values.set(m.subarray(r * site.cols, (r + 1) * site.cols), (r0 + r) * cols + c0);
      }
      const windowOf = (r, c) => Math.floor(r / site.rows) * gridCols + Math.floor(c / site.cols);
      return {
        values, rows, cols,
        rowLabel: (r) => positionLabel(false, site.queries, site.block, r % site.rows),
        tiles: { rows: site.rows, cols: site.cols },
        colLabel: (c) => positionLabel(false, site.keys, site.block, c % site.cols),
        describe: (r, c) => {
          const w = windowOf(r, c);
          if (w >= site.windows) return null;
          return 'window ' + w + ', query ' + describedPosition(false, site.queries, site.block, r % site.rows) +
            ' \u2192 key ' + describedPosition(false, site.keys, site.block, c % site.cols);
        },
      };
    }
    const window = site.windows > 1 ? state.window : 0;
    return {
      values: windowMap(index, state.input, window, head), rows: site.rows, cols: site.cols,
      rowLabel: (r) => positionLabel(site.query_tokens, site.queries, site.block, r),
      colLabel: (c) => positionLabel(site.key_tokens, site.keys, site.block, c),
      describe: (r, c) => (site.windows > 1 ? 'window ' + window + ', ' : '') +
        'query ' + describedPosition(site.query_tokens, site.queries, site.block, r) +
        ' \u2192 key ' + describedPosition(site.key_tokens, site.keys, site.block, c),
    };
  }

  // The weight as text: a float32 in its shortest exact form; a stored code
  // with the half unit it may be off by.
  function valueText(v, site) {
    if (Number.isNaN(v)) return 'no value';
    if (v === 0) return '0 (masked)';
    if (data.precision === 'float32' && site.block === 1) {
      for (let p = 1; p <= 9; p++) {
        const text = v.toPrecision(p);
        if (Math.fround(parseFloat(text)) === v) return String(parseFloat(text));
      }
      return String(v);
    }
    const exact = data.precision === 'float32';
    if (exact) return String(Number(v.toPrecision(7)));
    // The smallest code holds every weight above 0 and under one and a half units.
    if (Math.abs(v - site.unit) <= site.unit * 1e-6) return '\u2248 ' + Number(v.toPrecision(4)) + ' (above 0, under ' + Number((1.5 * site.unit).toPrecision(2)) + ')';
    return '\u2248 ' + Number(v.toPrecision(4)) + ' (\u00b1' + Number((site.unit / 2).toPrecision(2)) + ')';
  }

  // ---- state and controls --------------------------------------------------
  const state = {
    view: 'model', site: 0, shownSite: -1, input: 0, window: 0, head: 0, heads: new Set([0]), mean: false,
    held: null, hover: null,
  };
  state.input = Math.min(Math.max(0, data.batch_index | 0), sites[0].batch - 1);

  function option(select, value, text) {
    const o = document.createElement('option');
    o.value = String(value);
    o.textContent = text;
    select.appendChild(o);
  }
  function fillSites() {
    const select = $('site');
    sites.forEach((s, i) => option(select, i, s.name + '  (' + s.heads + (s.heads === 1 ? ' head' : ' heads') + ')'));
    select.addEventListener('change', () => chooseSite(Number(select.value), state.head));
  }
  function fillInputs() {
    const site = sites[state.site], select = $('input');
    select.textContent = '';
    for (let b = 0; b < site.batch; b++) option(select, b, 'input ' + b + ' of ' + site.batch);
    select.value = String(Math.min(state.input, site.batch - 1));
    $('input-label').hidden = site.batch <= 1;
  }
  function fillWindows() {
    const site = sites[state.site], select = $('window');
    select.textContent = '';
    if (site.windows > 1) {
      option(select, 'mosaic', 'all ' + site.windows + (site.neighbours ? ' windows (mosaic)' : ' groups (mosaic)'));
      for (let w = 0; w < site.windows; w++) option(select, w, (site.neighbours ? 'window ' : 'group ') + w);
    }
    select.value = String(state.window);
    $('window-label').hidden = site.windows <= 1;
  }
  function fillHeads() {
    const site = sites[state.site], bar = $('heads');
    bar.textContent = '';
    const chip = (key, text, colour) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'chip';
      b.dataset.head = String(key);
      const dot = document.createElement('span');
      dot.className = 'swatch';
      dot.style.background = colour;
      b.appendChild(dot);
      b.appendChild(document.createTextNode(text));
      b.addEventListener('click', () => pickHead(key));
      bar.appendChild(b);
    };
    for (let h = 0; h < site.heads; h++) chip(h, 'head ' + h, headColour(h));
    if (site.heads > 1) chip('mean', 'mean', MEAN_COLOUR);
    markHeads();
  }
  function markHeads() {
    for (const b of $('heads').children) {
      const key = b.dataset.head === 'mean' ? 'mean' : Number(b.dataset.head);
      const on = state.view === 'head' ? (key === 'mean' ? state.mean : state.heads.has(key)) : state.head === key;
      b.setAttribute('aria-pressed', on ? 'true' : 'false');
    }
  }
  function pickHead(key) {
    if (state.view === 'head') {
      if (key === 'mean') state.mean = !state.mean;
      else if (state.heads.has(key)) state.heads.delete(key);
      else state.heads.add(key);
    } else {
      state.head = key;
      if (key !== 'mean') state.heads = new Set([key]);
    }
    markHeads();
    render();
  }
  function chooseSite(index, head) {
    state.site = index;
    const site = sites[index];
    state.input = Math.min(state.input, site.batch - 1);
    // A windowed site opens on its mosaic, as its thumbnail shows it.
    if (index !== state.shownSite) state.window = site.windows > 1 ? 'mosaic' : 0;
    state.shownSite = index;
    state.head = head === 'mean' && site.heads > 1 ? 'mean' : Math.min(head === 'mean' ? 0 : head, site.heads - 1);
    state.heads = new Set([state.head === 'mean' ? 0 : state.head]);
    state.mean = state.head === 'mean';
    state.held = state.hover = null;
    $('site').value = String(index);
    fillInputs();
    fillWindows();
    fillHeads();
    fitNext = true;
    buildTokens();
    render();
  }
  function showView(view) {
    state.view = view;
    document.body.dataset.view = view;
    for (const v of ['model', 'head', 'matrix']) {
      $(v + '-view').hidden = v !== view;
      $('tab-' + v).setAttribute('aria-pressed', v === view ? 'true' : 'false');
    }
    $('site-label').hidden = view === 'model';
    $('heads').hidden = view === 'model';
    $('window-label').hidden = view === 'model' || sites[state.site].windows <= 1;
    markHeads();
    render();
  }

  // ---- notes and titles ----------------------------------------------------
  function megabytes(n) { return (n / 1e6).toPrecision(3) + ' MB'; }
  function renderNotes() {
    const list = $('notes');
    list.textContent = '';
    const note = (text) => { const li = document.createElement('li'); li.textContent = text; list.appendChild(li); };
    const site = sites[state.site];
    if (data.precision === 'float32') {
      note('Weights are stored exactly (float32): the readout shows the value of the data files.');
    } else {
      note('To keep this page under ' + megabytes(data.budget) + ', weights are stored in ' +
        (data.precision === 'uint16' ? '16' : '8') + ' bits: multiples of each site\'s unit (its largest weight / ' +
        (data.precision === 'uint16' ? '65534' : '254') + '); the readout says how far off it may be. The exact weights are in the data files.');
    }
    if (state.view !== 'model') {
      const element = site.elements[state.input];
      if (element) note('Shown: ' + element + '.');
      if (site.block > 1) {
        note(site.name + ' is shown in blocks of ' + site.block + ' \u00d7 ' + site.block + ' positions (their mean, as the figures reduce long inputs) to fit the page\'s budget; its exact weights are in the data files.');
      }
      if (site.scale.note) note('Colours: ' + site.scale.note + '.');
      note('Grey cells are masked keys (weight exactly 0)' + (site.windows > 1 ? '; white, no window there.' : '.'));
      if (state.view === 'head' && site.windows > 1 && state.window === 'mosaic') {
        note('The head view shows one window at a time: window 0 until you choose another above.');
      }
    } else {
      const reduced = sites.filter((s) => s.block > 1).length;
      if (reduced) note(reduced + ' of ' + sites.length + ' sites are shown in blocks of positions to fit the page\'s budget of ' + megabytes(data.budget) + '.');
    }
  }
  function headsText() {
    const list = [...state.heads].sort((a, b) => a - b).map(String);
    if (state.mean) list.push('mean');
    return list.length ? (list.length === 1 && list[0] !== 'mean' ? 'head ' : 'heads ') + list.join(', ') : 'no head chosen';
  }
  function renderTitle() {
    const site = sites[state.site];
    let text;
    if (state.view === 'model') {
      const most = Math.max(...sites.map((s) => s.heads));
      text = 'Model view: ' + sites.length + (sites.length === 1 ? ' site' : ' sites') + ' \u00d7 ' + most + (most === 1 ? ' head' : ' heads');
      if (sites[0].batch > 1) text += ', input ' + state.input;
    } else if (state.view === 'head') {
      text = 'Head view: ' + site.name + ', ' + headsText();
    } else {
      text = 'Matrix view: ' + site.name + ', ' + (state.head === 'mean' ? 'mean of the heads' : 'head ' + state.head);
    }
    $('view-title').textContent = text;
  }

  // ---- model view ----------------------------------------------------------
  const thumbBytes = sites.map((s) => bytesOf(s.thumbs));
  function renderModel() {
    const grid = $('grid');
    grid.textContent = '';
    const most = Math.max(...sites.map((s) => s.heads));
    grid.style.gridTemplateColumns = 'minmax(6em, max-content) repeat(' + most + ', 74px)';
    grid.appendChild(document.createElement('span'));
    for (let h = 0; h < most; h++) {
      const label = document.createElement('span');
      label.className = 'head-name';
      label.textContent = 'head ' + h;
      grid.appendChild(label);
    }
    sites.forEach((site, i) => {
      const name = document.createElement('span');
      name.className = 'site-name';
      name.textContent = site.name;
      name.title = site.name;
      grid.appendChild(name);
      const input = Math.min(state.input, site.batch - 1);
      const cells = site.thumb.rows * site.thumb.cols;
      for (let h = 0; h < most; h++) {
        if (h >= site.heads) { grid.appendChild(document.createElement('span')); continue; }
        const canvas = document.createElement('canvas');
        canvas.className = 'thumb';
        canvas.width = site.thumb.cols;
        canvas.height = site.thumb.rows;
        canvas.dataset.site = String(i);
        canvas.dataset.head = String(h);
        canvas.tabIndex = 0;
        canvas.title = site.name + ', head ' + h;
        canvas.setAttribute('role', 'button');
        canvas.setAttribute('aria-label', 'open ' + site.name + ', head ' + h);
        const ctx = canvas.getContext('2d');
        const image = ctx.createImageData(site.thumb.cols, site.thumb.rows);
        const start = (input * site.heads + h) * cells;
        for (let k = 0; k < cells; k++) {
          const code = thumbBytes[i][start + k];
          const c = code === 255 ? MISSING : code === 254 ? MASKED : palette[Math.round(code * 255 / 253)];
          image.data.set([c[0], c[1], c[2], 255], k * 4);
        }
        ctx.putImageData(image, 0, 0);
        grid.appendChild(canvas);
      }
    });
  }
  function openThumb(target) {
    const canvas = target.closest && target.closest('canvas.thumb');
    if (!canvas) return;
    chooseSite(Number(canvas.dataset.site), Number(canvas.dataset.head));
    showView('matrix');
  }
  $('grid').addEventListener('click', (e) => openThumb(e.target));
  $('grid').addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); openThumb(e.target); } });

  // ---- head view -----------------------------------------------------------
  function headWindow() {
    const site = sites[state.site];
    return site.windows > 1 && state.window !== 'mosaic' ? state.window : 0;
  }
  function buildTokens() {
    const site = sites[state.site];
    const fill = (container, count, useTokens, full, side) => {
      container.textContent = '';
      const frag = document.createDocumentFragment();
      for (let i = 0; i < count; i++) {
        const div = document.createElement('div');
        div.className = 'tok';
        div.dataset.index = String(i);
        div.dataset.side = side;
        const text = positionLabel(useTokens && site.windows <= 1, full, site.block, i);
        div.textContent = text;
        div.title = text;
        frag.appendChild(div);
      }
      container.appendChild(frag);
    };
    fill($('queries'), site.rows, site.query_tokens, site.queries, 'q');
    fill($('keys'), site.cols, site.key_tokens, site.keys, 'k');
  }
  function tokenOf(event) {
    const div = event.target.closest && event.target.closest('.tok');
    return div ? { side: div.dataset.side, index: Number(div.dataset.index) } : null;
  }
  function sameToken(a, b) { return a && b && a.side === b.side && a.index === b.index; }
  for (const id of ['queries', 'keys']) {
    $(id).addEventListener('mouseover', (e) => { const t = tokenOf(e); if (t && !sameToken(t, state.hover)) { state.hover = t; drawHead(); } });
    $(id).addEventListener('mouseleave', () => { state.hover = null; drawHead(); });
    $(id).addEventListener('click', (e) => {
      const t = tokenOf(e);
      if (!t) return;
      state.held = sameToken(t, state.held) ? null : t;
      drawHead();
    });
  }
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && state.held) { state.held = null; drawHead(); } });
  $('head-scroll').addEventListener('scroll', () => drawHead());

  function layoutHead() {
    const frame = $('head-frame'), scroll = $('head-scroll');
    const top = frame.getBoundingClientRect().top;
    const height = Math.max(200, window.innerHeight - Math.max(top, 0) - 24);
    const site = sites[state.site];
    scroll.style.height = Math.min(height, Math.max(site.rows, site.cols) * ROW + 4) + 'px';
    const canvas = $('head-canvas');
    const dpr = window.devicePixelRatio || 1;
    canvas.style.height = scroll.clientHeight + 'px';
    canvas.width = Math.round(300 * dpr);
    canvas.height = Math.round(scroll.clientHeight * dpr);
  }
  // The lines of the chosen heads (and mean): for a held or hovered token its
  // lines only, else those of the queries in sight.
  function drawHead() {
    if (state.view !== 'head') return;
    const site = sites[state.site], canvas = $('head-canvas'), scroll = $('head-scroll');
    const ctx = canvas.getContext('2d');
    const dpr = window.devicePixelRatio || 1;
    const width = 300, height = scroll.clientHeight, offset = scroll.scrollTop;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const focus = state.held || state.hover;
    for (const div of document.querySelectorAll('.tok.selected')) div.classList.remove('selected');
    if (focus) {
      const div = $(focus.side === 'q' ? 'queries' : 'keys').children[focus.index];
      if (div) div.classList.add('selected');
    }
    const layers = [...state.heads].sort((a, b) => a - b).map((h) => ({ key: h, colour: headColour(h) }));
    if (state.mean) layers.push({ key: 'mean', colour: MEAN_COLOUR });
    const first = Math.max(0, Math.floor(offset / ROW) - 1), last = Math.min(site.rows, Math.ceil((offset + height) / ROW) + 1);
    let queries, keys = null;
    if (focus && focus.side === 'q') queries = [focus.index];
    else if (focus) { queries = [...Array(site.rows).keys()]; keys = [focus.index]; }
    else queries = [...Array(Math.max(0, last - first)).keys()].map((i) => i + first);
    const y = (i) => i * ROW + ROW / 2 - offset;
    let drawn = 0;
    ctx.lineWidth = 1.5;
    for (const layer of layers) {
      const map = windowMap(state.site, state.input, headWindow(), layer.key);
      const buckets = Array.from({ length: 10 }, () => new Path2D());
      for (const q of queries) {
        let top = 0;
        for (let k = 0; k < site.cols; k++) { const w = map[q * site.cols + k]; if (w > top) top = w; }
        if (!(top > 0)) continue;
        for (const k of keys || [...Array(site.cols).keys()]) {
          const w = map[q * site.cols + k];
          if (!(w > 0)) continue;
          const a = w / top;
          if (a < (focus ? 0.01 : 0.05)) continue;
          const y1 = y(q), y2 = y(k);
          if ((y1 < -ROW && y2 < -ROW) || (y1 > height + ROW && y2 > height + ROW)) continue;
          const path = buckets[Math.min(9, Math.floor(a * 10))];
          path.moveTo(0, y1);
          path.lineTo(width, y2);
          drawn++;
        }
      }
      ctx.strokeStyle = layer.colour;
      buckets.forEach((path, b) => { ctx.globalAlpha = (b + 1) / 10; ctx.stroke(path); });
    }
    ctx.globalAlpha = 1;
    canvas.dataset.lines = String(drawn);
  }

  // ---- matrix view ---------------------------------------------------------
  let fitNext = true;
  const view = { cell: 1, x0: 0, y0: 0, left: 0, top: 0, width: 0, height: 0 };
  let shown = null, image = null, hoverCell = null;
  function labelSpace(ctx, count, label) {
    let widest = 0;
    const step = Math.max(1, Math.floor(count / 200));
    for (let i = 0; i < count; i += step) widest = Math.max(widest, ctx.measureText(label(i)).width);
    return Math.min(170, widest + 10);
  }
  function layoutMatrix() {
    const canvas = $('matrix');
    const top = canvas.getBoundingClientRect().top;
    const cssWidth = Math.max(320, Math.min(document.documentElement.clientWidth - 140, 1400));
    const cssHeight = Math.max(320, window.innerHeight - Math.max(top, 0) - 90);
    const dpr = window.devicePixelRatio || 1;
    canvas.style.width = cssWidth + 'px';
    canvas.style.height = cssHeight + 'px';
    canvas.width = Math.round(cssWidth * dpr);
    canvas.height = Math.round(cssHeight * dpr);
    const ctx = canvas.getContext('2d');
    ctx.font = '12px ui-monospace, "DejaVu Sans Mono", monospace';
    view.left = 24 + labelSpace(ctx, shown.rows, shown.rowLabel);
    view.top = 24 + Math.min(110, labelSpace(ctx, shown.cols, shown.colLabel) * 0.75);
    view.width = cssWidth - view.left - 8;
    view.height = cssHeight - view.top - 8;
    // A small map gets a canvas its own shape, so the colour bar stays beside it.
    const fit = Math.min(view.width / shown.cols, view.height / shown.rows);
    const narrower = Math.max(320, Math.ceil(view.left + shown.cols * fit + 8));
    const shorter = Math.max(240, Math.ceil(view.top + shown.rows * fit + 8));
    if (narrower < cssWidth || shorter < cssHeight) {
      canvas.style.width = Math.min(cssWidth, narrower) + 'px';
      canvas.style.height = Math.min(cssHeight, shorter) + 'px';
      canvas.width = Math.round(Math.min(cssWidth, narrower) * dpr);
      canvas.height = Math.round(Math.min(cssHeight, shorter) * dpr);
      view.width = Math.min(cssWidth, narrower) - view.left - 8;
      view.height = Math.min(cssHeight, shorter) - view.top - 8;
    }
  }
  function fitMatrix() {
    view.cell = Math.min(view.width / shown.cols, view.height / shown.rows);
    view.x0 = 0;
    view.y0 = 0;
  }
  function matrixImage() {
    const site = sites[state.site];
    const canvas = document.createElement('canvas');
    canvas.width = shown.cols;
    canvas.height = shown.rows;
    const ctx = canvas.getContext('2d');
    const pixels = ctx.createImageData(shown.cols, shown.rows);
    const v = shown.values;
    for (let i = 0; i < v.length; i++) {
      const c = colourOf(v[i], site.scale);
      pixels.data[i * 4] = c[0];
      pixels.data[i * 4 + 1] = c[1];
      pixels.data[i * 4 + 2] = c[2];
      pixels.data[i * 4 + 3] = 255;
    }
    ctx.putImageData(pixels, 0, 0);
    return canvas;
  }
  function renderMatrix() {
    shown = shownMatrix();
    image = matrixImage();
    layoutMatrix();
    if (fitNext) { fitMatrix(); fitNext = false; }
    hoverCell = null;
    drawMatrix();
    drawColourBar();
  }
  function drawMatrix() {
    const canvas = $('matrix'), ctx = canvas.getContext('2d');
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.save();
    ctx.beginPath();
    ctx.rect(view.left, view.top, view.width, view.height);
    ctx.clip();
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(image, view.left - view.x0 * view.cell, view.top - view.y0 * view.cell, shown.cols * view.cell, shown.rows * view.cell);
    if (shown.tiles) {
      // The windows' edges.
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 2;
      ctx.beginPath();
      for (let r = shown.tiles.rows; r < shown.rows; r += shown.tiles.rows) {
        const y = view.top + (r - view.y0) * view.cell;
        ctx.moveTo(view.left, y);
        ctx.lineTo(view.left + view.width, y);
      }
      for (let c = shown.tiles.cols; c < shown.cols; c += shown.tiles.cols) {
        const x = view.left + (c - view.x0) * view.cell;
        ctx.moveTo(x, view.top);
        ctx.lineTo(x, view.top + view.height);
      }
      ctx.stroke();
    }
    if (hoverCell) {
      ctx.strokeStyle = '#ff2d55';
      ctx.lineWidth = 2;
      ctx.strokeRect(view.left + (hoverCell.c - view.x0) * view.cell, view.top + (hoverCell.r - view.y0) * view.cell, view.cell, view.cell);
    }
    ctx.restore();
    // Labels where a cell is tall enough for them, else every few positions.
    ctx.fillStyle = '#1d1d1f';
    ctx.font = '12px ui-monospace, "DejaVu Sans Mono", monospace';
    const every = Math.max(1, Math.ceil(14 / view.cell));
    const r0 = Math.max(0, Math.floor(view.y0)), r1 = Math.min(shown.rows, Math.ceil(view.y0 + view.height / view.cell));
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let r = r0 - (r0 % every); r < r1; r += every) {
      if (r < r0) continue;
      const text = fitText(ctx, shown.rowLabel(r), view.left - 28);
      ctx.fillText(text, view.left - 4, view.top + (r - view.y0 + 0.5) * view.cell);
    }
    const c0 = Math.max(0, Math.floor(view.x0)), c1 = Math.min(shown.cols, Math.ceil(view.x0 + view.width / view.cell));
    ctx.textAlign = 'left';
    for (let c = c0 - (c0 % every); c < c1; c += every) {
      if (c < c0) continue;
      ctx.save();
      ctx.translate(view.left + (c - view.x0 + 0.5) * view.cell, view.top - 4);
      ctx.rotate(-Math.PI / 3);
      ctx.fillText(fitText(ctx, shown.colLabel(c), (view.top - 28) / 0.87), 0, 0);
      ctx.restore();
    }
    ctx.font = '12px system-ui, sans-serif';
    ctx.fillStyle = '#5f6368';
    ctx.textAlign = 'left';
    ctx.fillText('keys \u2192', 4, 12);
    ctx.save();
    ctx.translate(10, view.top + 40);
    ctx.rotate(Math.PI / 2);
    ctx.fillText('queries \u2192', 0, 0);
    ctx.restore();
  }
  function fitText(ctx, text, room) {
    if (ctx.measureText(text).width <= room) return text;
    let cut = text;
    while (cut.length > 1 && ctx.measureText(cut + '\u2026').width > room) cut = cut.slice(0, -1);
    return cut + '\u2026';
  }
  function drawColourBar() {
    const site = sites[state.site], canvas = $('colour-bar');
    const dpr = window.devicePixelRatio || 1;
    const height = parseFloat($('matrix').style.height);
    canvas.style.width = '110px';
    canvas.style.height = height + 'px';
    canvas.width = Math.round(110 * dpr);
    canvas.height = Math.round(height * dpr);
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    // Whole pixels: a fractional length would run past the palette's ends.
    const top = view.top, bar = Math.max(60, Math.round(Math.min(view.height, 400) - 40));
    for (let i = 0; i < bar; i++) {
      const c = palette[Math.round((1 - i / (bar - 1)) * 255)];
      ctx.fillStyle = 'rgb(' + c[0] + ',' + c[1] + ',' + c[2] + ')';
      ctx.fillRect(4, top + i, 18, 1.5);
    }
    ctx.fillStyle = '#1d1d1f';
    ctx.font = '12px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    const s = site.scale;
    const at = (t) => top + (1 - t) * (bar - 1);
    const ticks = s.log ? [s.lo, Math.sqrt(s.lo * s.hi), s.hi] : [s.lo, (s.lo + s.hi) / 2, s.hi];
    for (const v of ticks) ctx.fillText(Number(v.toPrecision(3)).toString(), 26, at(scaled(v, s)));
    ctx.fillText(s.log ? 'weight (log)' : 'weight', 4, top - 22);
    ctx.fillStyle = 'rgb(' + MASKED.join(',') + ')';
    ctx.fillRect(4, top + bar + 12, 18, 12);
    ctx.fillStyle = '#1d1d1f';
    ctx.fillText('masked', 26, top + bar + 18);
  }
  function cellAt(event) {
    const rect = $('matrix').getBoundingClientRect();
    const x = event.clientX - rect.left, y = event.clientY - rect.top;
    if (x < view.left || y < view.top || x >= view.left + view.width || y >= view.top + view.height) return null;
    const c = Math.floor((x - view.left) / view.cell + view.x0), r = Math.floor((y - view.top) / view.cell + view.y0);
    return r >= 0 && c >= 0 && r < shown.rows && c < shown.cols ? { r, c } : null;
  }
  function showReadout(cell) {
    const out = $('readout'), site = sites[state.site];
    if (!cell) {
      out.textContent = 'Hover a cell to read its weight; scroll to zoom, drag to pan.';
      delete out.dataset.query;
      return;
    }
    const where = shown.describe(cell.r, cell.c);
    if (!where) { out.textContent = 'no window here'; return; }
    const v = shown.values[cell.r * shown.cols + cell.c];
    out.textContent = where + ': ' + valueText(v, site);
    out.dataset.query = String(cell.r);
    out.dataset.key = String(cell.c);
    out.dataset.value = String(v);
  }
  let drag = null;
  const matrix = $('matrix');
  matrix.addEventListener('mousemove', (e) => {
    if (drag) {
      view.x0 = drag.x0 - (e.clientX - drag.x) / view.cell;
      view.y0 = drag.y0 - (e.clientY - drag.y) / view.cell;
      drawMatrix();
      return;
    }
    const cell = cellAt(e);
    if ((cell && hoverCell && cell.r === hoverCell.r && cell.c === hoverCell.c) || (!cell && !hoverCell)) return;
    hoverCell = cell;
    showReadout(cell);
    drawMatrix();
  });
  matrix.addEventListener('mouseleave', () => { hoverCell = null; drag = null; showReadout(null); drawMatrix(); });
  matrix.addEventListener('mousedown', (e) => { drag = { x: e.clientX, y: e.clientY, x0: view.x0, y0: view.y0 }; });
  window.addEventListener('mouseup', () => { drag = null; });
  function zoom(factor, x, y) {
    const fit = Math.min(view.width / shown.cols, view.height / shown.rows);
    const cell = Math.min(Math.max(view.cell * factor, fit / 2), 80);
    const cx = (x - view.left) / view.cell + view.x0, cy = (y - view.top) / view.cell + view.y0;
    view.cell = cell;
    view.x0 = cx - (x - view.left) / cell;
    view.y0 = cy - (y - view.top) / cell;
    drawMatrix();
  }
  matrix.addEventListener('wheel', (e) => {
    e.preventDefault();
    const rect = matrix.getBoundingClientRect();
    zoom(Math.exp(-e.deltaY * 0.0015), e.clientX - rect.left, e.clientY - rect.top);
  }, { passive: false });
  $('zoom-in').addEventListener('click', () => zoom(1.5, view.left + view.width / 2, view.top + view.height / 2));
  $('zoom-out').addEventListener('click', () => zoom(1 / 1.5, view.left + view.width / 2, view.top + view.height / 2));
  $('zoom-fit').addEventListener('click', () => { fitMatrix(); drawMatrix(); });

  // ---- putting it together -------------------------------------------------
  function render() {
    renderTitle();
    renderNotes();
    if (state.view === 'model') renderModel();
    if (state.view === 'head') { layoutHead(); drawHead(); }
    if (state.view === 'matrix') renderMatrix();
  }
  $('input').addEventListener('change', () => { state.input = Number($('input').value); render(); });
  $('window').addEventListener('change', () => {
    const v = $('window').value;
    state.window = v === 'mosaic' ? 'mosaic' : Number(v);
    fitNext = true;
    render();
  });
  for (const v of ['model', 'head', 'matrix']) $('tab-' + v).addEventListener('click', () => showView(v));
  let resizing = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => { fitNext = true; render(); }, 100);
  });

  $('title').textContent = 'pevis attention: ' + data.model;
  fillSites();
  chooseSite(0, 0);
  const maps = sites.reduce((n, s) => n + s.heads, 0);
  showView(maps > 1 ? 'model' : 'matrix');
  // For tests and benchmarks: where a cell is drawn, in the page's coordinates.
  window.pevis = {
    state,
    data,
    cellCentre(r, c) {
      const rect = matrix.getBoundingClientRect();
      return { x: rect.left + view.left + (c - view.x0 + 0.5) * view.cell, y: rect.top + view.top + (r - view.y0 + 0.5) * view.cell };
    },
    readyAt: performance.now(),
  };
  document.body.dataset.ready = 'true';
})();
