'use strict';
// pevis's summary page: the module tree of the JSON pevis wrote into this
// file, folding, sortable within each parent, filtered by name. Names are
// only ever set as text.
(function () {
  const $ = (id) => document.getElementById(id);
  const data = JSON.parse($('pevis-data').textContent);
  const rows = data.rows;
  // Parents and children from the depth-first order.
  const stack = [];
  rows.forEach((r, i) => {
    r.index = i;
    r.children = [];
    while (stack.length && rows[stack[stack.length - 1]].depth >= r.depth) stack.pop();
    r.parent = stack.length ? stack[stack.length - 1] : -1;
    if (r.parent >= 0) rows[r.parent].children.push(i);
    stack.push(i);
    r.open = r.depth < data.depth;
  });
  const grouped = (n) => (n < 0 ? '-' : '') + String(Math.abs(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const megabytes = (n) => (n / 1e6).toFixed(2);
  const columns = [
    { key: 'name', title: 'Module (type)', text: true },
    ...(data.forward ? [{ key: 'output', title: 'Output shape', text: true }] : []),
    { key: 'params', title: 'Params', show: grouped },
    { key: 'trainable', title: 'Trainable', show: grouped },
    ...(data.forward ? [{ key: 'mult_adds', title: 'Mult-adds', show: grouped }] : []),
    { key: 'bytes', title: 'Size (MB)', show: megabytes },
    { key: 'dtypes', title: 'Dtype', text: true, show: (d) => d.join(' ') },
  ];
  const state = { sort: null, descending: true, filter: '' };

  function header() {
    const tr = $('columns');
    for (const c of columns) {
      const th = document.createElement('th');
      if (c.text) th.className = 'text';
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = c.title;
      b.dataset.key = c.key;
      b.addEventListener('click', () => {
        if (state.sort === c.key) {
          if (state.descending === !!c.text) state.sort = null;  // a third click: the tree's own order
          else state.descending = !state.descending;
        } else {
          state.sort = c.key;
          state.descending = !c.text;
        }
        render();
      });
      th.appendChild(b);
      tr.appendChild(th);
    }
  }
  function value(r, key) { return key === 'dtypes' ? r.dtypes.join(' ') : r[key]; }
  function ordered(children) {
    if (!state.sort) return children;
    const sign = state.descending ? -1 : 1;
    return [...children].sort((a, b) => {
      const x = value(rows[a], state.sort), y = value(rows[b], state.sort);
      const c = typeof x === 'number' ? x - y : String(x).localeCompare(String(y));
      return sign * c || a - b;
    });
  }
  // Rows that match the filter, and their ancestors.
  function visibleByFilter() {
    if (!state.filter) return null;
    const needle = state.filter.toLowerCase();
    const keep = new Set(), match = new Set();
    rows.forEach((r, i) => {
      if ((r.path + ' ' + r.type).toLowerCase().includes(needle)) {
        match.add(i);
        for (let p = i; p >= 0; p = rows[p].parent) keep.add(p);
      }
    });
    return { keep, match };
  }
  function render() {
    const body = $('rows');
    body.textContent = '';
    const filtered = visibleByFilter();
    const frag = document.createDocumentFragment();
    const add = (i) => {
      const r = rows[i];
      if (filtered && !filtered.keep.has(i)) return;
      const tr = document.createElement('tr');
      tr.dataset.path = r.path;
      tr.dataset.index = String(i);
      if (filtered && filtered.match.has(i)) tr.className = 'match';
      for (const c of columns) {
        const td = document.createElement('td');
        if (c.key === 'name') {
          td.className = 'name';
          td.style.paddingLeft = 6 + r.depth * 18 + 'px';
          const toggle = document.createElement('button');
          toggle.type = 'button';
          toggle.className = 'toggle';
          const open = filtered ? true : r.open;
          if (r.children.length) {
            toggle.textContent = open ? '\u25BE' : '\u25B8';
            toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
            toggle.setAttribute('aria-label', (open ? 'fold ' : 'unfold ') + (r.path || r.name));
            toggle.addEventListener('click', () => { r.open = !r.open; render(); });
          }
          td.appendChild(toggle);
          const label = document.createElement('span');
          label.className = 'label';
          label.textContent = r.name;
          label.title = r.path || r.name;
          td.appendChild(label);
          if (r.type) {
            const type = document.createElement('span');
            type.className = 'type';
            type.textContent = '(' + r.type + ')';
            td.appendChild(type);
          }
        } else {
          if (c.text) td.className = 'text';
          const v = r[c.key];
          td.textContent = c.show ? c.show(v) : c.key === 'output' && !v ? (r.called ? 'unknown' : '--') : String(v);
        }
        tr.appendChild(td);
      }
      frag.appendChild(tr);
      if (filtered || r.open) for (const k of ordered(r.children)) add(k);
    };
    rows.forEach((r, i) => { if (r.parent < 0) add(i); });
    body.appendChild(frag);
    for (const b of $('columns').querySelectorAll('button')) {
      if (b.dataset.key === state.sort) b.setAttribute('aria-sort', state.descending ? 'descending' : 'ascending');
      else b.removeAttribute('aria-sort');
    }
    const column = columns.find((c) => c.key === state.sort);
    $('sorted').textContent = column ? 'Siblings sorted by ' + column.title + (state.descending ? ', largest first' : ', smallest first') : '';
    document.body.dataset.rows = String(body.children.length);
  }
  function totals() {
    const names = {
      total_params: 'Parameters', trainable_params: 'Trainable', non_trainable_params: 'Non-trainable',
      buffer_elements: 'Buffer elements', total_mult_adds: 'Mult-adds', param_bytes: 'Parameter bytes',
      buffer_bytes: 'Buffer bytes', activation_bytes: 'Activation bytes (float32, one forward pass)',
    };
    const body = $('totals').tBodies[0];
    for (const [key, title] of Object.entries(names)) {
      if (!(key in data.totals)) continue;
      if (!data.forward && (key === 'total_mult_adds' || key === 'activation_bytes')) continue;
      const tr = document.createElement('tr');
      const a = document.createElement('td'), b = document.createElement('td');
      a.textContent = title;
      b.textContent = grouped(data.totals[key]);
      tr.appendChild(a);
      tr.appendChild(b);
      body.appendChild(tr);
    }
    const note = (text) => { const li = document.createElement('li'); li.textContent = text; $('notes').appendChild(li); };
    for (const [name, counted] of data.shared) note('Shared (counted once): ' + name + ' = ' + counted);
    if (!data.forward) {
      note(data.weights_only ? 'This file holds weights only: modules are inferred from the tensor names, and shapes and mult-adds need a model that runs.'
        : 'Shapes and mult-adds need a forward pass: give --input or --input-shape.');
    }
    note('Params, Trainable, Mult-adds and Size count each module with everything below it.');
  }
  $('expand').addEventListener('click', () => { rows.forEach((r) => { r.open = true; }); render(); });
  $('collapse').addEventListener('click', () => { rows.forEach((r) => { r.open = r.depth < 1; }); render(); });
  $('filter').addEventListener('input', () => { state.filter = $('filter').value.trim(); render(); });
  $('title').textContent = 'pevis summary: ' + data.model;
  header();
  totals();
  render();
  document.body.dataset.ready = 'true';
})();
