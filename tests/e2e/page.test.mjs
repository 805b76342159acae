// End-to-end test of the `spotdiff serve` page in real headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core; no browser is downloaded).
//
// For two fixture pairs it uploads the images through the page's file pickers, waits
// for the result and checks it against `spotdiff compare --json` for the same pair:
// the box table, the SVG overlay, the box outlines drawn in the picture (read back
// from a canvas), the scores and the downloaded JSON report. It checks the heatmap /
// mask / filled toggles, row hover, errors shown in words, and the layout at phone
// width, and saves screenshots to out/e2e/.
//
// Run: bash tests/e2e/run.sh (from scripts/test.sh).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = process.env.SPOTDIFF_BIN || path.join(ROOT, 'target/debug/spotdiff');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OUT = path.join(ROOT, 'out/e2e');
const PAIRS = [
  ['tests/fixtures/two-changes-far-a.png', 'tests/fixtures/two-changes-far-b.png'],
  ['examples/before.png', 'examples/after.png'],
];

let server;
let url;
let browser;

before(async () => {
  fs.mkdirSync(OUT, { recursive: true });
  server = spawn(BIN, ['serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: server.stdout });
  url = await new Promise((resolve, reject) => {
    server.once('exit', (code) => reject(new Error(`spotdiff serve exited with ${code}`)));
    lines.once('line', (line) => {
      const m = line.match(/http:\/\/127\.0\.0\.1:\d+\//);
      if (m) resolve(m[0]); else reject(new Error('no URL in: ' + line));
    });
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server) {
    server.kill('SIGINT');
    await new Promise((r) => server.once('exit', r));
  }
});

function cliReport(a, b, extra = []) {
  const r = spawnSync(BIN, ['compare', path.join(ROOT, a), path.join(ROOT, b), '--json', ...extra], { encoding: 'utf8' });
  assert.ok(r.status === 0 || r.status === 1, r.stderr);
  return JSON.parse(r.stdout);
}

// The report without the input paths (the page knows file names only) and pictures.
function comparable(report) {
  const r = structuredClone(report);
  delete r.pictures;
  delete r.a.path;
  delete r.b.path;
  return r;
}

async function openPage(viewport = { width: 1280, height: 900 }) {
  const page = await browser.newPage({ viewport });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(url);
  // The method list comes from /api/info.
  await page.waitForFunction(() => document.querySelectorAll('#method option').length >= 3);
  return { page, errors };
}

async function compareIn(page, a, b) {
  await page.setInputFiles('#file-a', path.join(ROOT, a));
  await page.setInputFiles('#file-b', path.join(ROOT, b));
  // Previews are shown before comparing.
  for (const which of ['a', 'b']) {
    await page.waitForFunction((w) => {
      const img = document.getElementById('preview-' + w);
      return !img.hidden && img.complete && img.naturalWidth > 0;
    }, which);
  }
  await page.click('#compare');
  await page.waitForSelector('#results:not([hidden])');
  await page.waitForFunction(() => {
    const img = document.getElementById('main-img');
    return img.complete && img.naturalWidth > 0;
  });
}

for (const [a, b] of PAIRS) {
  test(`page boxes the changes of ${path.basename(a)} / ${path.basename(b)} as the CLI does`, async () => {
    const cli = cliReport(a, b);
    assert.ok(cli.boxes.length >= 2, 'the pair has changes');
    const { page, errors } = await openPage();
    await compareIn(page, a, b);
    const expected = cli.boxes.map((x) => [x.x, x.y, x.w, x.h]);

    // The verdict and the scores are shown.
    const verdict = await page.textContent('#verdict');
    assert.match(verdict, new RegExp(`${cli.boxes.length} changed regions`));
    assert.equal(await page.textContent('dd[data-score="SSIM"]'), cli.scores.ssim.toFixed(4));
    assert.equal(await page.textContent('dd[data-score="max ΔE"]'), cli.scores.max_delta_e.toFixed(1));

    // The box table.
    const rows = await page.$$eval('#boxes tbody tr', (trs) =>
      trs.map((tr) => [...tr.cells].slice(1, 5).map((td) => Number(td.textContent))));
    assert.deepEqual(rows, expected);

    // The overlays on the main view and on both sides of the side-by-side view.
    const overlays = await page.$$eval('svg.overlay', (svgs) => svgs.map((svg) =>
      [...svg.querySelectorAll('rect')].map((r) =>
        ['x', 'y', 'width', 'height'].map((k) => Number(r.getAttribute(k))))));
    assert.equal(overlays.length, 3);
    for (const o of overlays) assert.deepEqual(o, expected);

    // The outlines are drawn in the pictures themselves: the pixel just left of each
    // box, halfway down, is the box colour (#ff0044), on A and on B.
    for (const id of ['main-img', 'side-a-img', 'side-b-img']) {
      const colours = await page.evaluate(([id, boxes]) => {
        const img = document.getElementById(id);
        const c = document.createElement('canvas');
        c.width = img.naturalWidth;
        c.height = img.naturalHeight;
        const ctx = c.getContext('2d');
        ctx.drawImage(img, 0, 0);
        return boxes.map(([x, y, , h]) => [...ctx.getImageData(x - 1, y + Math.floor(h / 2), 1, 1).data].slice(0, 3));
      }, [id, expected.filter(([x]) => x >= 1)]);
      for (const c of colours) assert.deepEqual(c, [255, 0, 68], id);
    }

    // The overlay sits on the picture: box #1's rectangle covers the right screen area.
    const geo = await page.evaluate(([x, y, w, h]) => {
      const img = document.getElementById('main-img').getBoundingClientRect();
      const rect = document.querySelector('#main-overlay rect').getBoundingClientRect();
      const s = img.width / document.getElementById('main-img').naturalWidth;
      return { want: [img.left + x * s, img.top + y * s, w * s, h * s], got: [rect.left, rect.top, rect.width, rect.height] };
    }, expected[0]);
    geo.want.forEach((v, i) => assert.ok(Math.abs(v - geo.got[i]) < 1.5, JSON.stringify(geo)));

    // Hovering a row highlights its box.
    await page.hover('#boxes tbody tr:nth-child(2)');
    const hot = await page.$$eval('#main-overlay rect.hot', (rs) => rs.map((r) => r.dataset.index));
    assert.deepEqual(hot, ['1']);

    // The downloaded report is the CLI's.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-json')]);
    const downloaded = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
    assert.deepEqual(comparable(downloaded), comparable(cli));
    const files = await page.$$eval('#downloads a', (as) => as.map((x) => x.getAttribute('download')));
    assert.deepEqual(files, ['a_boxes.png', 'b_boxes.png', 'side_by_side.png', 'heatmap.png', 'mask.png', 'filled.png', 'report.json']);

    const stem = path.basename(a).replace(/-?a?\.png$/, '').replace(/^before$/, 'example');
    await page.screenshot({ path: path.join(OUT, `${stem}-desktop.png`), fullPage: true });

    // The toggles swap the main picture; outlines then come from the overlay.
    for (const view of ['heatmap', 'mask', 'filled']) {
      await page.click(`.toolbar label:has(input[value=${view}])`);
      const state = await page.evaluate(() => {
        const img = document.getElementById('main-img');
        const rect = document.querySelector('#main-overlay rect');
        return { view: document.getElementById('main').dataset.view, src: img.src.slice(0, 22), stroke: getComputedStyle(rect).stroke };
      });
      assert.equal(state.view, view);
      assert.equal(state.src, 'data:image/png;base64,');
      assert.equal(state.stroke, 'rgb(255, 0, 68)');
    }
    await page.screenshot({ path: path.join(OUT, `${stem}-heatmap.png`), fullPage: false });
    assert.deepEqual(errors, []);
    await page.close();
  });
}

test('page works at phone width', async () => {
  const [a, b] = PAIRS[1];
  const cli = cliReport(a, b);
  const { page, errors } = await openPage({ width: 390, height: 844 });
  await compareIn(page, a, b);
  const rows = await page.$$eval('#boxes tbody tr', (trs) => trs.length);
  assert.equal(rows, cli.boxes.length);
  // Nothing sticks out sideways (the box table scrolls inside its own frame).
  const widths = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, win: window.innerWidth }));
  assert.ok(widths.doc <= widths.win, JSON.stringify(widths));
  // The side-by-side view stacks A above B.
  const [ra, rb] = await page.$$eval('.side figure', (fs) => fs.map((f) => f.getBoundingClientRect().top));
  assert.ok(rb > ra);
  await page.screenshot({ path: path.join(OUT, 'phone.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('errors are shown in the page in words', async () => {
  const { page } = await openPage();
  // One file missing: said before anything is sent.
  await page.setInputFiles('#file-a', path.join(ROOT, PAIRS[0][0]));
  await page.click('#compare');
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await page.textContent('#error'), /B is missing/);

  // Not an image: the server's message.
  await page.setInputFiles('#file-b', path.join(ROOT, 'tests/fixtures/README.md'));
  await page.click('#compare');
  await page.waitForFunction(() => /not an image/.test(document.getElementById('error').textContent));
  assert.match(await page.textContent('#error'), /image B \(README\.md\): not an image/);
  assert.equal(await page.isHidden('#results'), true);

  // Different sizes.
  await page.setInputFiles('#file-b', path.join(ROOT, PAIRS[1][1]));
  await page.click('#compare');
  await page.waitForFunction(() => /differ in size/.test(document.getElementById('error').textContent));
  // In the page's words: the control's label and its choices, not the field's name.
  const sizeError = await page.textContent('#error');
  assert.match(sizeError, /"Different sizes"/);
  assert.doesNotMatch(sizeError, /size_policy|--/);
  await page.screenshot({ path: path.join(OUT, 'error.png') });
  await page.close();
});

// Screen pixels of a point given in the picture's pixels, on the main view.
function onScreen(page, [x, y]) {
  return page.evaluate(([x, y]) => {
    const r = document.getElementById('main-overlay').getBoundingClientRect();
    const img = document.getElementById('main-img');
    return [r.left + (x * r.width) / img.naturalWidth, r.top + (y * r.height) / img.naturalHeight];
  }, [x, y]);
}

test('an ignore area drawn with the mouse is sent as `ignore` and its box goes', async () => {
  const [a, b] = PAIRS[0];
  const cli = cliReport(a, b);
  assert.equal(cli.boxes.length, 2);
  const { page, errors } = await openPage();
  await compareIn(page, a, b);
  const box = cli.boxes[0];
  await page.click('#draw-ignore');
  const from = await onScreen(page, [box.x - 6, box.y - 6]);
  const to = await onScreen(page, [box.x + box.w + 6, box.y + box.h + 6]);
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/compare'));
  await page.mouse.move(...from);
  await page.mouse.down();
  await page.mouse.move(to[0], to[1], { steps: 6 });
  await page.mouse.up();
  const response = await answer;
  // The rectangle as the page lists it, in A's pixels.
  const listed = (await page.textContent('#ignore-list')).match(/ignore (\d+)×(\d+) at (\d+),(\d+)/);
  assert.ok(listed, 'the area is listed');
  const [w, h, x, y] = listed.slice(1).map(Number);
  const field = `${x},${y},${w},${h}`;
  // Sent as an `ignore` field (where the browser hands the body over).
  const body = response.request().postDataBuffer();
  if (body) assert.match(body.toString('latin1'), new RegExp(`name="ignore"\\r\\n\\r\\n${field}\\r\\n`));
  assert.ok(x <= box.x && y <= box.y && x + w >= box.x + box.w && y + h >= box.y + box.h, `${field} covers box 1`);
  // The page shows what the command line gives with the same --ignore.
  // (The server drops the box only if the field arrived.)
  const ignored = cliReport(a, b, ['--ignore', field]);
  assert.equal(ignored.boxes.length, 1);
  await page.waitForFunction((n) => document.querySelectorAll('#boxes tbody tr').length === n, ignored.boxes.length);
  const rows = await page.$$eval('#boxes tbody tr', (trs) => trs.map((tr) => [...tr.cells].slice(1, 5).map((td) => Number(td.textContent))));
  assert.deepEqual(rows, ignored.boxes.map((q) => [q.x, q.y, q.w, q.h]));
  // The area is drawn on the overlays and listed; removing it brings the box back.
  assert.equal(await page.$$eval('#main-overlay rect.ignore', (rs) => rs.length), 1);
  assert.match(await page.textContent('#ignore-list'), new RegExp(`${w}×${h} at ${x},${y}`));
  await page.click('#ignore-list button');
  await page.waitForFunction((n) => document.querySelectorAll('#boxes tbody tr').length === n, cli.boxes.length);
  await page.click('#draw-ignore'); // drawing off

  // Swipe: B over A, clipped at the slider; onion skin: B's opacity.
  await page.click('.toolbar label:has(input[value=swipe])');
  assert.equal(await page.isVisible('#view-slider'), true);
  const track = await page.$eval('#view-slider', (el) => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; });
  await page.mouse.click(track[0] + track[2] * 0.7, track[1] + track[3] / 2);
  const pos = Number(await page.$eval('#view-slider', (el) => el.value));
  assert.ok(pos > 55 && pos < 85, String(pos));
  const swipe = await page.evaluate(() => ({
    clip: document.getElementById('main-img').style.clipPath,
    under: !document.getElementById('main-under').hidden && document.getElementById('main-under').src.startsWith('data:image/png'),
  }));
  assert.deepEqual(swipe, { clip: `inset(0px 0px 0px ${pos}%)`, under: true });
  await page.click('.toolbar label:has(input[value=onion])');
  await page.$eval('#view-slider', (el) => { el.value = '40'; el.dispatchEvent(new Event('input', { bubbles: true })); });
  assert.equal(await page.$eval('#main-img', (i) => i.style.opacity), '0.4');

  // Zoom: the picture grows, and the outlines stay 2 CSS px wide.
  await page.click('.toolbar label:has(input[value=heatmap])');
  const width = () => page.$eval('#main-frame', (f) => f.getBoundingClientRect().width);
  const w0 = await width();
  await page.click('#zoom-in');
  assert.ok((await width()) > w0 * 1.4);
  const stroke = await page.evaluate(() => {
    const rect = document.querySelector('#main-overlay rect[data-index]');
    const svg = rect.ownerSVGElement;
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    return parseFloat(getComputedStyle(rect).strokeWidth) * scale;
  });
  assert.ok(stroke >= 1.99, String(stroke));
  await page.screenshot({ path: path.join(OUT, 'zoomed.png') });
  assert.deepEqual(errors, []);
  await page.close();
});
