// spotdiff's page: pick two images, send them to /api/compare, show what came back.
'use strict';

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
const PICTURE_FILES = {
  a: 'a_boxes.png', b: 'b_boxes.png', side: 'side_by_side.png',
  heatmap: 'heatmap.png', mask: 'mask.png', filled: 'filled.png',
};
let last = null; // the last report, pictures included
const ignores = []; // rectangles [x, y, w, h] in A's pixels, sent as `ignore`
const zoom = { z: 1, x: 0, y: 0 }; // the main view's zoom and pan
// Field names in server messages, in the page's words (the labels of its controls).
const FIELD_WORDS = {
  method: 'Method', threshold: 'Threshold (ΔE)', ssim_threshold: 'SSIM threshold',
  min_area: 'Minimum area', merge_distance: 'Merge distance', size_policy: 'Different sizes',
  color: 'Colour', thickness: 'Line width', ignore: 'Ignore area',
};

// ---- set-up from /api/info: methods, defaults, limits ------------------------------
async function loadInfo() {
  try {
    const r = await fetch('/api/info');
    const info = await r.json();
    const sel = $('method');
    sel.textContent = '';
    for (const m of info.methods) {
      const o = document.createElement('option');
      o.value = m;
      o.textContent = m;
      o.selected = m === info.defaults.method;
      sel.append(o);
    }
    $('min_area').value = info.defaults.min_area;
    $('merge_distance').value = info.defaults.merge_distance;
    $('color').value = info.defaults.color;
    $('thickness').value = info.defaults.thickness;
    const l = info.limits;
    $('limits').textContent = `spotdiff ${info.version} · up to ${Math.round(l.max_upload_bytes / 1048576)} MiB per upload, ` +
      `${(l.max_pixels / 1e6).toFixed(0)} megapixels per image`;
  } catch (e) {
    showError('Could not reach the server: ' + e.message);
  }
}

// ---- file pickers, previews, drag and drop -----------------------------------------
function setFile(which, file) {
  const input = $('file-' + which);
  if (file) {
    const dt = new DataTransfer();
    dt.items.add(file);
    input.files = dt.files;
  }
  showPreview(which);
}

function showPreview(which) {
  const f = $('file-' + which).files[0];
  const img = $('preview-' + which);
  if (img.src) URL.revokeObjectURL(img.src);
  if (!f) {
    img.hidden = true;
    img.removeAttribute('src');
    $('name-' + which).textContent = 'Choose a file or drop it here';
    return;
  }
  img.src = URL.createObjectURL(f);
  img.alt = 'preview of ' + f.name;
  img.hidden = false;
  $('name-' + which).textContent = `${f.name} (${formatBytes(f.size)})`;
}

function formatBytes(n) {
  if (n < 1024) return n + ' B';
  if (n < 1048576) return (n / 1024).toFixed(0) + ' KB';
  return (n / 1048576).toFixed(1) + ' MB';
}

for (const which of ['a', 'b']) {
  const zone = $('drop-' + which);
  $('file-' + which).addEventListener('change', () => showPreview(which));
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const files = [...e.dataTransfer.files];
    if (files.length >= 2) { // two files dropped at once: A and B
      setFile('a', files[0]);
      setFile('b', files[1]);
    } else if (files.length === 1) {
      setFile(which, files[0]);
    }
  });
}

// ---- comparing ---------------------------------------------------------------------
function showError(text) {
  const e = $('error');
  e.textContent = text;
  e.hidden = !text;
}

function formData() {
  const fd = new FormData();
  const a = $('file-a').files[0];
  const b = $('file-b').files[0];
  if (!a || !b) throw new Error(`Choose two images: ${!a ? 'A' : 'B'} is missing.`);
  fd.append('a', a, a.name);
  fd.append('b', b, b.name);
  for (const id of ['method', 'threshold', 'ssim_threshold', 'min_area', 'merge_distance',
    'size_policy', 'color', 'thickness']) {
    const v = $(id).value.trim();
    if (v !== '') fd.append(id, v);
  }
  for (const r of ignores) fd.append('ignore', r.join(','));
  fd.append('pictures', 'all');
  return fd;
}

// A server message in the page's words: field names become the controls' labels.
function inWords(msg) {
  return msg.replace(/field `(\w+)`/g, (m, f) => (FIELD_WORDS[f] ? `"${FIELD_WORDS[f]}"` : m));
}

$('form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  runCompare();
});

async function runCompare() {
  showError('');
  let fd;
  try { fd = formData(); } catch (e) { showError(e.message); return; }
  const button = $('compare');
  button.disabled = true;
  $('status').textContent = 'Comparing…';
  const t0 = performance.now();
  try {
    const r = await fetch('/api/compare', { method: 'POST', body: fd });
    let body;
    try { body = await r.json(); } catch { body = null; }
    if (!r.ok) {
      const msg = body && body.error ? inWords(body.error) : `the server answered ${r.status} ${r.statusText}`;
      const retry = r.headers.get('Retry-After');
      throw new Error(msg + (retry ? ` (retry in ${retry} s)` : ''));
    }
    last = body;
    showResult(body);
    $('status').textContent = `Done in ${((performance.now() - t0) / 1000).toFixed(2)} s.`;
  } catch (e) {
    $('status').textContent = '';
    showError('Could not compare: ' + e.message);
  } finally {
    button.disabled = false;
  }
}

// ---- results -----------------------------------------------------------------------
const pct = (x) => (x * 100).toFixed(3) + ' %';

function showResult(r) {
  $('results').hidden = false;
  const n = r.boxes.length;
  const verdict = {
    identical: 'Identical: the images are pixel-for-pixel equal',
    same: 'Same: no change above the thresholds',
    different: `Different: ${n} changed region${n === 1 ? '' : 's'}`,
  }[r.verdict] || r.verdict;
  const h = $('verdict');
  h.textContent = verdict;
  h.className = 'verdict ' + r.verdict;

  const s = r.scores;
  const rows = [
    ['SSIM', s.ssim.toFixed(4)],
    ['changed pixels', pct(s.changed_pixel_ratio)],
    ['differing pixels', pct(s.differing_pixel_ratio)],
    ['max ΔE', s.max_delta_e.toFixed(1)],
  ];
  if (typeof s.semantic === 'number') rows.push(['semantic', s.semantic.toFixed(4)]);
  rows.push(['thresholds', `ΔE ${r.thresholds.pixel_delta_e}, 1 − SSIM ${r.thresholds.ssim_dissimilarity}`]);
  rows.push(['method', r.method]);
  rows.push(['size', `${r.a.width}×${r.a.height}`]);
  const dl = $('scores');
  dl.textContent = '';
  for (const [k, v] of rows) {
    const div = document.createElement('div');
    const dt = document.createElement('dt');
    const dd = document.createElement('dd');
    dt.textContent = k;
    dd.textContent = v;
    dd.dataset.score = k;
    div.append(dt, dd);
    dl.append(div);
  }

  const [w, h2] = pictureSize(r);
  $('caption-a').textContent = 'A: ' + r.a.path;
  $('caption-b').textContent = 'B: ' + r.b.path;
  $('side-a-img').src = r.pictures.a;
  $('side-b-img').src = r.pictures.b;
  for (const svg of document.querySelectorAll('svg.overlay')) drawOverlay(svg, r.boxes, w, h2);
  drawIgnores();
  setView(document.querySelector('input[name=view]:checked').value);
  fillTable(r.boxes);
  fillDownloads(r);
  requestAnimationFrame(updateStrokes);
}

// Boxes are in A's coordinates after the size policy; pictures have that size.
function pictureSize(r) {
  const al = r.alignment;
  if (al && al.to) return al.to;
  return [r.a.width, r.a.height];
}

function drawOverlay(svg, boxes, w, h) {
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.textContent = '';
  boxes.forEach((b, i) => {
    const rect = document.createElementNS(SVG, 'rect');
    rect.setAttribute('x', b.x);
    rect.setAttribute('y', b.y);
    rect.setAttribute('width', b.w);
    rect.setAttribute('height', b.h);
    rect.dataset.index = i;
    rect.addEventListener('mouseenter', () => highlight(i, true));
    rect.addEventListener('mouseleave', () => highlight(i, false));
    const title = document.createElementNS(SVG, 'title');
    title.textContent = `#${i + 1}: ${b.w}×${b.h} at ${b.x},${b.y}`;
    rect.append(title);
    svg.append(rect);
  });
  svg.style.setProperty('--box', $('color').value);
}

function setView(name) {
  if (!last) return;
  $('main').dataset.view = name;
  const blend = name === 'swipe' || name === 'onion';
  $('main-img').src = last.pictures[blend ? 'b' : name];
  $('main-under').hidden = !blend;
  if (blend) $('main-under').src = last.pictures.a;
  $('view-slider-label').hidden = !blend;
  $('view-slider-name').textContent = name === 'onion' ? 'Opacity of B' : 'Position';
  applySlider();
}

// Swipe: B shown right of the slider, A left of it; onion skin: B over A at the
// slider's opacity.
function applySlider() {
  const v = Number($('view-slider').value);
  const view = $('main').dataset.view;
  const img = $('main-img');
  img.style.clipPath = view === 'swipe' ? `inset(0 0 0 ${v}%)` : '';
  img.style.opacity = view === 'onion' ? String(v / 100) : '';
}
$('view-slider').addEventListener('input', applySlider);

// ---- zoom and pan of the main view -------------------------------------------------
function applyZoom() {
  $('main-frame').style.transform = zoom.z === 1 && zoom.x === 0 && zoom.y === 0
    ? '' : `translate(${zoom.x}px, ${zoom.y}px) scale(${zoom.z})`;
  $('main-port').classList.toggle('zoomed', zoom.z !== 1);
  $('zoom-level').textContent = Math.round(zoom.z * 100) + ' %';
  updateStrokes();
}

function zoomAt(factor, cx, cy) {
  const z = Math.min(Math.max(zoom.z * factor, 1), 32);
  zoom.x = cx - (cx - zoom.x) * (z / zoom.z);
  zoom.y = cy - (cy - zoom.y) * (z / zoom.z);
  zoom.z = z;
  clampPan();
  applyZoom();
}

// The picture always covers the frame: no panning past its edges.
function clampPan() {
  const port = $('main-port');
  const w = port.clientWidth;
  const h = port.clientHeight;
  zoom.x = Math.min(0, Math.max(w - w * zoom.z, zoom.x));
  zoom.y = Math.min(0, Math.max(h - h * zoom.z, zoom.y));
}

// Outlines 2 CSS px wide whatever the scale: the overlay's stroke in picture pixels,
// and the overlay drawn over pictures shown so small that their own 2 px outlines
// would be thinner than that.
function updateStrokes() {
  const img = $('main-img');
  for (const svg of document.querySelectorAll('svg.overlay')) {
    const frame = svg.parentElement;
    const pic = frame.querySelector('img:not([hidden])') || img;
    if (!pic.naturalWidth || !frame.clientWidth) continue;
    const z = svg.id === 'main-overlay' ? zoom.z : 1;
    const scale = (frame.clientWidth * z) / pic.naturalWidth;
    svg.style.setProperty('--stroke', 2 / scale + 'px');
    frame.closest('.shot').classList.toggle('scaled', scale < 1);
  }
}
window.addEventListener('resize', () => { clampPan(); applyZoom(); });
for (const img of document.querySelectorAll('.shot img')) img.addEventListener('load', updateStrokes);

$('zoom-in').addEventListener('click', () => {
  const p = $('main-port');
  zoomAt(1.5, p.clientWidth / 2, p.clientHeight / 2);
});
$('zoom-out').addEventListener('click', () => {
  const p = $('main-port');
  zoomAt(1 / 1.5, p.clientWidth / 2, p.clientHeight / 2);
});
$('zoom-fit').addEventListener('click', () => { zoom.z = 1; zoom.x = 0; zoom.y = 0; applyZoom(); });
$('main-port').addEventListener('wheel', (e) => {
  if (!e.ctrlKey && zoom.z === 1 && e.deltaY > 0) return; // let the page scroll
  e.preventDefault();
  const r = $('main-port').getBoundingClientRect();
  zoomAt(e.deltaY < 0 ? 1.25 : 0.8, e.clientX - r.left, e.clientY - r.top);
}, { passive: false });

// ---- drawing ignore areas (drag on the main view) ------------------------------------
let drawing = false;
$('draw-ignore').addEventListener('click', () => {
  drawing = !drawing;
  $('draw-ignore').setAttribute('aria-pressed', String(drawing));
  $('main-port').classList.toggle('drawing', drawing);
});

// A point of the page in the picture's pixels (A's coordinates).
function toPicture(ev) {
  const img = $('main-img');
  const r = $('main-overlay').getBoundingClientRect();
  const [w, h] = last ? pictureSize(last) : [img.naturalWidth, img.naturalHeight];
  const x = ((ev.clientX - r.left) / r.width) * w;
  const y = ((ev.clientY - r.top) / r.height) * h;
  return [Math.min(Math.max(Math.round(x), 0), w), Math.min(Math.max(Math.round(y), 0), h)];
}

$('main-port').addEventListener('pointerdown', (ev) => {
  if (ev.button !== 0 || !last) return;
  const port = $('main-port');
  port.setPointerCapture(ev.pointerId);
  ev.preventDefault();
  if (drawing) {
    const [x0, y0] = toPicture(ev);
    const rect = document.createElementNS(SVG, 'rect');
    rect.setAttribute('class', 'drawing');
    $('main-overlay').append(rect);
    let box = [x0, y0, 0, 0];
    const move = (e) => {
      const [x1, y1] = toPicture(e);
      box = [Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0)];
      rect.setAttribute('x', box[0]);
      rect.setAttribute('y', box[1]);
      rect.setAttribute('width', box[2]);
      rect.setAttribute('height', box[3]);
    };
    const up = () => {
      port.removeEventListener('pointermove', move);
      port.removeEventListener('pointerup', up);
      rect.remove();
      if (box[2] >= 2 && box[3] >= 2) {
        ignores.push(box);
        drawIgnores();
        runCompare();
      }
    };
    port.addEventListener('pointermove', move);
    port.addEventListener('pointerup', up);
  } else if (zoom.z > 1) {
    const start = { x: ev.clientX, y: ev.clientY, zx: zoom.x, zy: zoom.y };
    const move = (e) => {
      zoom.x = start.zx + e.clientX - start.x;
      zoom.y = start.zy + e.clientY - start.y;
      clampPan();
      applyZoom();
    };
    const up = () => {
      port.removeEventListener('pointermove', move);
      port.removeEventListener('pointerup', up);
    };
    port.addEventListener('pointermove', move);
    port.addEventListener('pointerup', up);
  }
});

// The ignore areas: dashed on every view, and listed with a button to remove each.
function drawIgnores() {
  for (const svg of document.querySelectorAll('svg.overlay')) {
    for (const old of svg.querySelectorAll('rect.ignore')) old.remove();
    for (const [x, y, w, h] of ignores) {
      const rect = document.createElementNS(SVG, 'rect');
      rect.setAttribute('class', 'ignore');
      rect.setAttribute('x', x);
      rect.setAttribute('y', y);
      rect.setAttribute('width', w);
      rect.setAttribute('height', h);
      svg.prepend(rect);
    }
  }
  const list = $('ignore-list');
  list.textContent = '';
  ignores.forEach((r, i) => {
    const item = document.createElement('span');
    item.textContent = `ignore ${r[2]}×${r[3]} at ${r[0]},${r[1]}`;
    const x = document.createElement('button');
    x.type = 'button';
    x.textContent = '×';
    x.title = 'Stop ignoring this area';
    x.addEventListener('click', () => { ignores.splice(i, 1); drawIgnores(); runCompare(); });
    item.append(x);
    list.append(item);
  });
}

for (const r of document.querySelectorAll('input[name=view]')) {
  r.addEventListener('change', () => setView(r.value));
}

function fillTable(boxes) {
  const tbody = $('boxes').querySelector('tbody');
  tbody.textContent = '';
  boxes.forEach((b, i) => {
    const tr = document.createElement('tr');
    tr.dataset.index = i;
    const cells = [i + 1, b.x, b.y, b.w, b.h, b.changed_pixels, b.mean_change.toFixed(1),
      b.peak_change.toFixed(1), b.evidence.join(', ')];
    for (const c of cells) {
      const td = document.createElement('td');
      td.textContent = c;
      tr.append(td);
    }
    tr.addEventListener('mouseenter', () => highlight(i, true));
    tr.addEventListener('mouseleave', () => highlight(i, false));
    tr.tabIndex = 0;
    tr.addEventListener('focus', () => highlight(i, true));
    tr.addEventListener('blur', () => highlight(i, false));
    tbody.append(tr);
  });
  $('boxes').hidden = boxes.length === 0;
  $('no-boxes').hidden = boxes.length !== 0;
  requestAnimationFrame(scrollHint);
}

// Says when the box table is wider than its frame (phone width).
function scrollHint() {
  const wrap = $('boxes-wrap');
  $('scroll-hint').hidden = $('boxes').hidden || wrap.scrollWidth <= wrap.clientWidth + 1;
}
window.addEventListener('resize', scrollHint);

function highlight(i, on) {
  for (const el of document.querySelectorAll(`[data-index="${i}"]`)) el.classList.toggle('hot', on);
}

function fillDownloads(r) {
  const p = $('downloads');
  p.textContent = '';
  for (const [name, file] of Object.entries(PICTURE_FILES)) {
    if (!r.pictures[name]) continue;
    const a = document.createElement('a');
    a.href = r.pictures[name];
    a.download = file;
    a.textContent = file;
    a.className = 'button';
    p.append(a);
  }
  const report = { ...r };
  delete report.pictures;
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([JSON.stringify(report, null, 2)], { type: 'application/json' }));
  a.download = 'report.json';
  a.textContent = 'report.json';
  a.className = 'button';
  a.id = 'download-json';
  p.append(a);
}

loadInfo();
