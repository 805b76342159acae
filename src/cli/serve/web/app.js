// spotdiff's page: pick two images, send them to /api/compare, show what came back.
'use strict';

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
const PICTURE_FILES = {
  a: 'a_boxes.png', b: 'b_boxes.png', side: 'side_by_side.png',
  heatmap: 'heatmap.png', mask: 'mask.png', filled: 'filled.png',
};
let last = null; // the last report, pictures included

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
  fd.append('pictures', 'all');
  return fd;
}

$('form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
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
      const msg = body && body.error ? body.error : `the server answered ${r.status} ${r.statusText}`;
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
});

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
  setView(document.querySelector('input[name=view]:checked').value);
  fillTable(r.boxes);
  fillDownloads(r);
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
  $('main-img').src = last.pictures[name];
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
}

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
