// spotdiff's review report: an index of the pairs and a viewer per pair (#N), read
// from the JSON inlined in the page. Works from the folder, without a server.
'use strict';

const DATA = JSON.parse(document.getElementById('spotdiff-data').textContent);
const PAIRS = DATA.pairs;
const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
const VERDICTS = {
  identical: 'identical', same: 'same', different: 'different', failed: 'failed',
  only_a: 'only in A', only_b: 'only in B',
};
// The smallest outline on screen, in CSS pixels, whatever the zoom.
const MIN_STROKE = 2;

function group(p) {
  if (p.status === 'different') return 'differing';
  if (p.status === 'failed') return 'failed';
  if (p.status === 'only_a' || p.status === 'only_b') return 'one-sided';
  return 'passed';
}

// ---- index ---------------------------------------------------------------------------
function fillIndex() {
  const counts = { all: PAIRS.length, differing: 0, failed: 0, 'one-sided': 0 };
  for (const p of PAIRS) if (group(p) in counts) counts[group(p)] += 1;
  for (const [k, v] of Object.entries(counts)) {
    const el = document.querySelector(`[data-count="${k}"]`);
    if (el) el.textContent = `(${v})`;
  }
  $('summary').textContent = `${PAIRS.length} pair${PAIRS.length === 1 ? '' : 's'}: ` +
    `${counts.differing} differing, ${counts.failed} failed, ${counts['one-sided']} on one side only`;
  const tbody = $('pairs').querySelector('tbody');
  tbody.textContent = '';
  PAIRS.forEach((p, i) => {
    const tr = document.createElement('tr');
    tr.dataset.index = i;
    tr.dataset.group = group(p);
    tr.className = 'status-' + p.status;
    const r = p.report;
    const thumb = document.createElement('td');
    if (p.files) {
      const img = document.createElement('img');
      img.src = p.files.thumb;
      img.alt = '';
      img.loading = 'lazy';
      img.className = 'thumb';
      thumb.append(img);
    }
    const name = document.createElement('td');
    const a = document.createElement('a');
    a.href = '#' + i;
    a.textContent = p.name;
    name.append(a);
    const verdict = document.createElement('td');
    const badge = document.createElement('span');
    badge.className = 'badge ' + p.status;
    badge.textContent = VERDICTS[p.status] || p.status;
    verdict.append(badge);
    if (r && r.tolerance && r.tolerance.tolerated) verdict.append(' (within tolerance)');
    if (p.error) {
      const e = document.createElement('div');
      e.className = 'error-line';
      e.textContent = p.error;
      verdict.append(e);
    }
    const cells = [thumb, name, verdict];
    const num = (v) => { const td = document.createElement('td'); td.textContent = v; return td; };
    if (r) {
      cells.push(num(r.boxes.length), num(r.scores.ssim.toFixed(4)),
        num((r.scores.changed_pixel_ratio * 100).toFixed(3) + ' %'), num(r.scores.max_delta_e.toFixed(1)));
    } else {
      cells.push(num('–'), num('–'), num('–'), num('–'));
    }
    tr.append(...cells);
    tr.addEventListener('click', (ev) => { if (ev.target.tagName !== 'A') location.hash = '#' + i; });
    tbody.append(tr);
  });
  applyFilter();
}

function applyFilter() {
  const f = document.querySelector('input[name=filter]:checked').value;
  let shown = 0;
  for (const tr of $('pairs').querySelectorAll('tbody tr')) {
    const on = f === 'all' || tr.dataset.group === f;
    tr.hidden = !on;
    shown += on ? 1 : 0;
  }
  $('empty').hidden = shown !== 0;
}

for (const r of document.querySelectorAll('input[name=filter]')) r.addEventListener('change', applyFilter);

// ---- viewer --------------------------------------------------------------------------
const view = { index: -1, zoom: 1, x: 0, y: 0, w: 1, h: 1, blink: null };

function reportDir() {
  const p = decodeURIComponent(location.pathname);
  return p.slice(0, p.lastIndexOf('/')) || '.';
}

function quote(s) {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\\''") + "'";
}

function openPair(i) {
  const p = PAIRS[i];
  view.index = i;
  $('index').hidden = true;
  $('viewer').hidden = false;
  $('pair-name').textContent = p.name;
  $('prev').hidden = i === 0;
  $('next').hidden = i === PAIRS.length - 1;
  $('prev').href = '#' + (i - 1);
  $('next').href = '#' + (i + 1);
  const r = p.report;
  const v = $('pair-verdict');
  v.className = 'verdict badge ' + p.status;
  let text = VERDICTS[p.status] || p.status;
  if (r) {
    const n = r.boxes.length;
    text += `: ${n} changed region${n === 1 ? '' : 's'}, SSIM ${r.scores.ssim.toFixed(4)}, ` +
      `changed ${(r.scores.changed_pixel_ratio * 100).toFixed(3)} %, max ΔE ${r.scores.max_delta_e.toFixed(1)}`;
    if (r.tolerance) {
      text += r.tolerance.tolerated ? ' (within the tolerance)' : ' (beyond the tolerance)';
    }
    if (r.global && r.global.length) text += '; ' + r.global.join('; ');
  }
  v.textContent = text;
  $('pair-error').hidden = !p.error;
  $('pair-error').textContent = p.error || '';
  $('pair-body').hidden = !p.files;
  $('approve-cmd').textContent = `spotdiff approve ${quote(reportDir())} ${quote(p.name)}`;
  if (!p.files) return;
  view.w = r.a.width;
  view.h = r.a.height;
  if (r.alignment && r.alignment.to) [view.w, view.h] = r.alignment.to;
  for (const img of document.querySelectorAll('#stage-a img, #stage-b img.under')) img.src = p.files.a;
  document.querySelector('#stage-b img.over').src = p.files.b;
  $('caption-b').textContent = 'B';
  for (const c of document.querySelectorAll('.stage .canvas')) {
    c.style.width = view.w + 'px';
    c.style.height = view.h + 'px';
  }
  for (const svg of document.querySelectorAll('svg.overlay')) drawBoxes(svg, r.boxes);
  fillBoxes(r.boxes);
  setMode(document.querySelector('input[name=mode]:checked').value);
  fit();
}

function drawBoxes(svg, boxes) {
  svg.setAttribute('viewBox', `0 0 ${view.w} ${view.h}`);
  svg.setAttribute('width', view.w);
  svg.setAttribute('height', view.h);
  svg.textContent = '';
  boxes.forEach((b, i) => {
    const g = document.createElementNS(SVG, 'g');
    g.dataset.index = i;
    const rect = document.createElementNS(SVG, 'rect');
    rect.setAttribute('x', b.x);
    rect.setAttribute('y', b.y);
    rect.setAttribute('width', b.w);
    rect.setAttribute('height', b.h);
    const label = document.createElementNS(SVG, 'text');
    label.setAttribute('x', b.x);
    label.setAttribute('y', b.y);
    label.textContent = i + 1;
    const title = document.createElementNS(SVG, 'title');
    title.textContent = `#${i + 1}: ${b.w}×${b.h} at ${b.x},${b.y}`;
    g.append(rect, label, title);
    g.addEventListener('mouseenter', () => highlight(i, true));
    g.addEventListener('mouseleave', () => highlight(i, false));
    svg.append(g);
  });
}

function fillBoxes(boxes) {
  const tbody = $('boxes').querySelector('tbody');
  tbody.textContent = '';
  boxes.forEach((b, i) => {
    const tr = document.createElement('tr');
    tr.dataset.index = i;
    for (const c of [i + 1, b.x, b.y, b.w, b.h, b.changed_pixels, b.mean_change.toFixed(1),
      b.peak_change.toFixed(1), b.kind]) {
      const td = document.createElement('td');
      td.textContent = c;
      tr.append(td);
    }
    tr.tabIndex = 0;
    tr.addEventListener('mouseenter', () => highlight(i, true));
    tr.addEventListener('mouseleave', () => highlight(i, false));
    tr.addEventListener('focus', () => highlight(i, true));
    tr.addEventListener('blur', () => highlight(i, false));
    tr.addEventListener('click', () => focusBox(i));
    tbody.append(tr);
  });
  $('boxes').hidden = boxes.length === 0;
  $('no-boxes').hidden = boxes.length !== 0;
}

function highlight(i, on) {
  for (const el of document.querySelectorAll(`#viewer [data-index="${i}"]`)) el.classList.toggle('hot', on);
}

// Zooms onto box i (at least 2×, the box filling about half the view).
function focusBox(i) {
  const b = PAIRS[view.index].report.boxes[i];
  const port = document.querySelector('#stage-b .port');
  const pw = port.clientWidth;
  const ph = port.clientHeight;
  const z = Math.min(Math.max(Math.min(pw / b.w, ph / b.h) * 0.5, 1), 32);
  view.zoom = z;
  view.x = pw / 2 - (b.x + b.w / 2) * z;
  view.y = ph / 2 - (b.y + b.h / 2) * z;
  applyTransform();
  highlight(i, true);
}

// ---- modes: side by side, swipe, onion skin, blink, heatmap --------------------------
function setMode(mode) {
  const stages = $('stages');
  stages.dataset.mode = mode;
  if (view.blink) { clearInterval(view.blink); view.blink = null; }
  const p = PAIRS[view.index];
  if (!p || !p.files) return;
  const over = document.querySelector('#stage-b img.over');
  over.src = mode === 'heatmap' ? p.files.heatmap : p.files.b;
  $('caption-b').textContent = {
    side: 'B', swipe: 'A | B (drag the slider)', onion: 'B over A (slider: opacity)',
    blink: 'A and B in turn', heatmap: 'heatmap of B',
  }[mode];
  $('slider-label').hidden = mode !== 'swipe' && mode !== 'onion';
  if (mode === 'blink') {
    let on = true;
    view.blink = setInterval(() => { on = !on; over.style.visibility = on ? 'visible' : 'hidden'; }, 600);
  }
  over.style.visibility = 'visible';
  applySlider();
  requestAnimationFrame(fit);
}

function applySlider() {
  const v = Number($('slider').value);
  const over = document.querySelector('#stage-b img.over');
  const mode = $('stages').dataset.mode;
  over.style.clipPath = mode === 'swipe' ? `inset(0 0 0 ${v}%)` : '';
  over.style.opacity = mode === 'onion' ? String(v / 100) : '';
  $('stages').style.setProperty('--swipe', v + '%');
}

$('slider').addEventListener('input', applySlider);
for (const r of document.querySelectorAll('input[name=mode]')) r.addEventListener('change', () => setMode(r.value));
$('show-boxes').addEventListener('change', () => {
  $('stages').classList.toggle('no-boxes', !$('show-boxes').checked);
});

// ---- zoom and pan (the same view on both stages) -------------------------------------
function applyTransform() {
  for (const c of document.querySelectorAll('.stage .canvas')) {
    c.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.zoom})`;
  }
  // Outlines at least MIN_STROKE CSS pixels wide at any zoom.
  $('stages').style.setProperty('--stroke', MIN_STROKE / view.zoom + 'px');
  $('stages').style.setProperty('--label', String(14 / view.zoom));
  $('zoom-level').textContent = Math.round(view.zoom * 100) + ' %';
}

function fit() {
  const port = document.querySelector('#stage-b .port');
  if (!port || !port.clientWidth) return;
  view.zoom = Math.min(port.clientWidth / view.w, port.clientHeight / view.h);
  view.x = (port.clientWidth - view.w * view.zoom) / 2;
  view.y = (port.clientHeight - view.h * view.zoom) / 2;
  applyTransform();
}

function zoomAt(factor, cx, cy) {
  const z = Math.min(Math.max(view.zoom * factor, 0.05), 64);
  view.x = cx - (cx - view.x) * (z / view.zoom);
  view.y = cy - (cy - view.y) * (z / view.zoom);
  view.zoom = z;
  applyTransform();
}

for (const port of document.querySelectorAll('.port')) {
  port.addEventListener('wheel', (e) => {
    e.preventDefault();
    const r = port.getBoundingClientRect();
    zoomAt(e.deltaY < 0 ? 1.25 : 0.8, e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  port.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    port.setPointerCapture(e.pointerId);
    const start = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y };
    const move = (ev) => {
      view.x = start.vx + ev.clientX - start.x;
      view.y = start.vy + ev.clientY - start.y;
      applyTransform();
    };
    const up = () => {
      port.removeEventListener('pointermove', move);
      port.removeEventListener('pointerup', up);
      port.removeEventListener('pointercancel', up);
    };
    port.addEventListener('pointermove', move);
    port.addEventListener('pointerup', up);
    port.addEventListener('pointercancel', up);
  });
}
const center = () => {
  const port = document.querySelector('#stage-b .port');
  return [port.clientWidth / 2, port.clientHeight / 2];
};
$('zoom-in').addEventListener('click', () => zoomAt(1.5, ...center()));
$('zoom-out').addEventListener('click', () => zoomAt(1 / 1.5, ...center()));
$('zoom-fit').addEventListener('click', fit);
window.addEventListener('resize', () => { if (view.index >= 0) fit(); });

// ---- routing: #N opens pair N, anything else the index --------------------------------
function route() {
  const m = location.hash.match(/^#(\d+)$/);
  const i = m ? Number(m[1]) : -1;
  if (i >= 0 && i < PAIRS.length) {
    openPair(i);
  } else {
    if (view.blink) { clearInterval(view.blink); view.blink = null; }
    view.index = -1;
    $('viewer').hidden = true;
    $('index').hidden = false;
  }
}

document.addEventListener('keydown', (e) => {
  if (view.index < 0 || e.target.tagName === 'INPUT') return;
  if (e.key === 'ArrowRight' && view.index < PAIRS.length - 1) location.hash = '#' + (view.index + 1);
  if (e.key === 'ArrowLeft' && view.index > 0) location.hash = '#' + (view.index - 1);
  if (e.key === 'Escape') location.hash = '#';
});

window.addEventListener('hashchange', route);
fillIndex();
route();
