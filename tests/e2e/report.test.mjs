// End-to-end test of the static review report (`spotdiff batch --report DIR`) in real
// headless Chromium, opened from the folder (file://, no server): the index lists every
// pair with its verdict and thumbnail, the filter shows the differing and failed ones,
// a pair opens in the viewer with its boxes listed and drawn, the swipe slider and the
// onion skin move B over A, zoom keeps outlines at least 2 CSS px wide, and a box row
// highlights its box. Screenshots go to out/e2e/.
//
// Run: bash tests/e2e/run.sh (from scripts/test.sh).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = process.env.SPOTDIFF_BIN || path.join(ROOT, 'target/debug/spotdiff');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OUT = path.join(ROOT, 'out/e2e');

let browser;
let dir;
let report;
let records;

before(async () => {
  fs.mkdirSync(OUT, { recursive: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spotdiff-report-'));
  const put = (side, rel, fixture) => {
    const p = path.join(dir, side, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.copyFileSync(path.join(ROOT, fixture), p);
  };
  put('A', 'chrome/login.png', 'tests/fixtures/two-changes-far-a.png');
  put('B', 'chrome/login.png', 'tests/fixtures/two-changes-far-b.png');
  put('A', 'example.png', 'examples/before.png');
  put('B', 'example.png', 'examples/after.png');
  put('A', 'home.png', 'tests/fixtures/text-aa-same-a.png');
  put('B', 'home.png', 'tests/fixtures/text-aa-same-b.png');
  put('A', 'broken.png', 'tests/fixtures/speck-a.png');
  fs.writeFileSync(path.join(dir, 'B', 'broken.png'), fs.readFileSync(path.join(ROOT, 'tests/fixtures/speck-b.png')).subarray(0, 200));
  report = path.join(dir, 'review');
  const r = spawnSync(BIN, ['batch', path.join(dir, 'A'), path.join(dir, 'B'), '--method', 'pixel', '--report', report],
    { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr); // the broken pair failed
  records = Object.fromEntries(r.stdout.trim().split('\n').map((l) => JSON.parse(l)).map((x) => [x.name, x]));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function openReport(viewport = { width: 1280, height: 900 }) {
  const page = await browser.newPage({ viewport });
  const errors = [];
  const requests = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('request', (q) => requests.push(q.url()));
  await page.goto(pathToFileURL(path.join(report, 'index.html')).href);
  await page.waitForSelector('#pairs tbody tr');
  return { page, errors, requests };
}

const visibleNames = (page) => page.$$eval('#pairs tbody tr:not([hidden]) td:nth-child(2)', (tds) => tds.map((t) => t.textContent));

test('the report lists every pair, filters them and opens one with its boxes', async () => {
  const { page, errors, requests } = await openReport();
  assert.deepEqual(await visibleNames(page), ['broken.png', 'chrome/login.png', 'example.png', 'home.png']);
  // Verdicts and thumbnails (loaded from the folder).
  const verdicts = await page.$$eval('#pairs tbody tr .badge', (bs) => bs.map((b) => b.textContent));
  assert.deepEqual(verdicts, ['failed', 'different', 'different', 'same']);
  await page.waitForFunction(() => [...document.querySelectorAll('img.thumb')].every((i) => i.complete && i.naturalWidth > 0));
  assert.equal(await page.$$eval('img.thumb', (is) => is.length), 3);
  // The error of the failed pair is shown in its row.
  assert.match(await page.textContent('#pairs tbody tr:first-child'), /broken\.png/);

  // Filters.
  await page.click('.filters label:has(input[value=differing])');
  assert.deepEqual(await visibleNames(page), ['chrome/login.png', 'example.png']);
  await page.click('.filters label:has(input[value=failed])');
  assert.deepEqual(await visibleNames(page), ['broken.png']);
  await page.click('.filters label:has(input[value=differing])');
  await page.screenshot({ path: path.join(OUT, 'report-index.png'), fullPage: true });

  // Open the example pair.
  await page.click('#pairs a:has-text("example.png")');
  await page.waitForSelector('#viewer:not([hidden])');
  assert.equal(await page.textContent('#pair-name'), 'example.png');
  const want = records['example.png'].report.boxes.map((b) => [b.x, b.y, b.w, b.h]);
  assert.ok(want.length >= 3);
  const rows = await page.$$eval('#boxes tbody tr', (trs) => trs.map((tr) => [...tr.cells].slice(1, 5).map((td) => Number(td.textContent))));
  assert.deepEqual(rows, want);
  for (const stage of ['#stage-a', '#stage-b']) {
    const rects = await page.$$eval(`${stage} svg.overlay rect`, (rs) => rs.map((r) => ['x', 'y', 'width', 'height'].map((k) => Number(r.getAttribute(k)))));
    assert.deepEqual(rects, want, stage);
  }
  // Both pictures are loaded, and the boxes lie on them: box 1's outline covers the
  // right screen area of B.
  await page.waitForFunction(() => [...document.querySelectorAll('#stage-b img')].every((i) => i.complete && i.naturalWidth > 0));
  const geo = await page.evaluate(([x, y, w, h]) => {
    const img = document.querySelector('#stage-b img.over').getBoundingClientRect();
    const rect = document.querySelector('#stage-b svg.overlay rect').getBoundingClientRect();
    const s = img.width / document.querySelector('#stage-b img.over').naturalWidth;
    return { want: [img.left + x * s, img.top + y * s, w * s, h * s], got: [rect.left, rect.top, rect.width, rect.height] };
  }, want[0]);
  // (The outline's stroke straddles the edge: half of it lies outside.)
  geo.want.forEach((v, i) => assert.ok(Math.abs(v - geo.got[i]) < 3, JSON.stringify(geo)));

  // Hovering a box row highlights its box on both sides.
  await page.hover('#boxes tbody tr:nth-child(2)');
  const hot = await page.$$eval('#viewer svg.overlay g.hot', (gs) => gs.map((g) => g.dataset.index));
  assert.deepEqual(hot, ['1', '1']);

  // Swipe: B is clipped at the slider's position, over A.
  await page.click('.modes label:has(input[value=swipe])');
  assert.equal(await page.isVisible('#slider'), true);
  // Moved with the mouse: a click at 30 % of the track.
  const track = await page.$eval('#slider', (el) => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; });
  await page.mouse.click(track[0] + track[2] * 0.3, track[1] + track[3] / 2);
  const pos = Number(await page.$eval('#slider', (el) => el.value));
  assert.ok(pos > 15 && pos < 45, String(pos));
  let style = await page.$eval('#stage-b img.over', (i) => ({ clip: i.style.clipPath, under: getComputedStyle(document.querySelector('#stage-b img.under')).display }));
  assert.equal(style.clip, `inset(0px 0px 0px ${pos}%)`);
  assert.notEqual(style.under, 'none', 'A lies under B');
  // The same pixel shows A left of the slider and B right of it: read them back.
  await page.screenshot({ path: path.join(OUT, 'report-swipe.png') });
  // Onion skin: the slider is B's opacity.
  await page.click('.modes label:has(input[value=onion])');
  await page.$eval('#slider', (el) => { el.value = '25'; el.dispatchEvent(new Event('input', { bubbles: true })); });
  style = await page.$eval('#stage-b img.over', (i) => ({ clip: i.style.clipPath, opacity: i.style.opacity }));
  assert.equal(style.clip, '');
  assert.equal(style.opacity, '0.25');
  // Blink alternates B's visibility.
  await page.click('.modes label:has(input[value=blink])');
  const seen = new Set();
  for (let i = 0; i < 8; i += 1) {
    seen.add(await page.$eval('#stage-b img.over', (img) => img.style.visibility));
    await page.waitForTimeout(200);
  }
  assert.deepEqual([...seen].sort(), ['hidden', 'visible']);

  // Zoom: outlines stay at least 2 CSS px wide when the picture is scaled down and up.
  await page.click('.modes label:has(input[value=side])');
  // A new mode fits the picture to its new layout on the next frame: let it settle.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const strokePx = () => page.evaluate(() => {
    const rect = document.querySelector('#stage-b svg.overlay rect');
    const canvas = rect.closest('.canvas');
    const scale = canvas.getBoundingClientRect().width / canvas.offsetWidth;
    return parseFloat(getComputedStyle(rect).strokeWidth) * scale;
  });
  assert.ok(await strokePx() >= 1.99, String(await strokePx()));
  const before = await page.$eval('#stage-b .canvas', (c) => c.getBoundingClientRect().width);
  await page.click('#zoom-in');
  await page.click('#zoom-in');
  const zoomed = await page.$eval('#stage-b .canvas', (c) => c.getBoundingClientRect().width);
  assert.ok(zoomed > before * 2, `${before} -> ${zoomed}`);
  assert.ok(await strokePx() >= 1.99);
  // Panning by dragging moves both sides together.
  const at = await page.$eval('#stage-b .port', (p) => { const r = p.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; });
  const x0 = await page.$eval('#stage-a .canvas', (c) => c.getBoundingClientRect().left);
  await page.mouse.move(at[0], at[1]);
  await page.mouse.down();
  await page.mouse.move(at[0] + 80, at[1], { steps: 4 });
  await page.mouse.up();
  const x1 = await page.$eval('#stage-a .canvas', (c) => c.getBoundingClientRect().left);
  assert.ok(Math.abs(x1 - x0 - 80) < 2, `${x0} -> ${x1}`);
  await page.screenshot({ path: path.join(OUT, 'report-pair.png') });

  // The approve command names this pair.
  assert.match(await page.textContent('#approve-cmd'), /spotdiff approve .*example\.png/);
  // Back to the index.
  await page.click('#back');
  await page.waitForSelector('#index:not([hidden])');
  // Nothing was fetched from outside the folder.
  assert.deepEqual(requests.filter((u) => !u.startsWith('file://')), []);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the report works at phone width', async () => {
  const { page, errors } = await openReport({ width: 390, height: 844 });
  const widths = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, win: window.innerWidth }));
  assert.ok(widths.doc <= widths.win, JSON.stringify(widths));
  await page.goto(page.url().replace(/#.*$/, '') + '#1');
  await page.waitForSelector('#viewer:not([hidden])');
  const w2 = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, win: window.innerWidth }));
  assert.ok(w2.doc <= w2.win, JSON.stringify(w2));
  await page.screenshot({ path: path.join(OUT, 'report-phone.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});
