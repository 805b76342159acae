// Render the UI pages of the change-model set in headless Chromium.
//
//   node scripts/eval/ui/render.mjs JOBS.json RESULTS.json
//
// JOBS.json: [{"id", "page" (path of an .html file), "width", "height", "full_page",
//              "browser": "default" | "rerender" | "nosubpixel", "js": null | "an expression",
//              "out"}]
// For each job: a fresh page at width x height (device scale 1; one browser context per
// browser kind and size, a new page per job) loads the file, waits for
// its fonts and two animation frames, evaluates `js` (with the helpers below in scope:
// text, color, move, hide, border, weight; each returns what it changed and where), waits
// two frames more and writes a lossless PNG screenshot to `out`. RESULTS.json gets
// [{"id", "out", "ret", "ms"}] plus the browser version. Any failing job stops the run
// (exit 1): a snippet whose target is missing is a bug in edits.mjs, never skipped.
//
// The browser is Debian's /usr/bin/chromium ($CHROMIUM overrides), driven by
// playwright-core; nothing is downloaded. "rerender" is a second browser process with the
// same flags; "nosubpixel" adds --disable-font-subpixel-positioning to them.
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--no-first-run"];

// In-page helpers. Each edit is one call; it throws when its target or its text is missing,
// and returns {rect: [x, y, w, h] of the element before and after (page px, union),
// font_px, before, after}.
const HELPERS = String.raw`
const el = (sel) => { const e = document.querySelector(sel); if (!e) throw new Error("no element " + sel); return e; };
const rectOf = (e) => { const r = e.getBoundingClientRect(); return [r.left + scrollX, r.top + scrollY, r.width, r.height]; };
const union = (a, b) => { const x = Math.min(a[0], b[0]), y = Math.min(a[1], b[1]);
  return [x, y, Math.max(a[0] + a[2], b[0] + b[2]) - x, Math.max(a[1] + a[3], b[1] + b[3]) - y]; };
const done = (e, r0, extra) => Object.assign({ rect: union(r0, rectOf(e)), font_px: parseFloat(getComputedStyle(e).fontSize) }, extra);
function text(sel, from, to) {
  const e = el(sel), r0 = rectOf(e);
  const walk = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const i = n.data.indexOf(from);
    if (i >= 0) {
      const range = document.createRange(); range.setStart(n, i); range.setEnd(n, i + from.length);
      const g0 = range.getBoundingClientRect();
      n.data = n.data.slice(0, i) + to + n.data.slice(i + from.length);
      return done(e, r0, { before: from, after: to, font_px: parseFloat(getComputedStyle(n.parentElement).fontSize),
        glyphs: [g0.left + scrollX, g0.top + scrollY, g0.width, g0.height] });
    }
  }
  throw new Error("no text " + JSON.stringify(from) + " in " + sel);
}
function color(sel, prop, value) {
  const e = el(sel), r0 = rectOf(e), before = getComputedStyle(e)[prop];
  e.style.setProperty(prop, value);
  const after = getComputedStyle(e)[prop];
  if (after === before) throw new Error(sel + ": " + prop + " did not change");
  return done(e, r0, { prop, before, after });
}
function move(sel, dx, dy) {
  const e = el(sel), r0 = rectOf(e);
  e.style.transform = "translate(" + dx + "px, " + dy + "px)";
  return done(e, r0, { before: [0, 0], after: [dx, dy] });
}
function hide(sel) { const e = el(sel), r0 = rectOf(e); e.style.visibility = "hidden"; return done(e, r0, {}); }
function border(sel) {
  // 1 px -> 2 px border on every side; where that would grow the box (content-box sizing
  // or auto height), the padding gives 1 px on every side, so nothing around it reflows
  const e = el(sel), r0 = rectOf(e), cs = getComputedStyle(e);
  const sides = ["top", "right", "bottom", "left"];
  for (const s of sides) {
    if (cs.getPropertyValue("border-" + s + "-width") !== "1px") throw new Error(sel + ": border-" + s + " is not 1px");
  }
  const pad = sides.map((s) => parseFloat(cs.getPropertyValue("padding-" + s)));
  sides.forEach((s) => e.style.setProperty("border-" + s + "-width", "2px"));
  const r1 = rectOf(e);
  if (r1[2] !== r0[2] || r1[3] !== r0[3]) {
    if (Math.min(...pad) < 1) throw new Error(sel + ": the box grows and has no padding to give");
    sides.forEach((s, i) => e.style.setProperty("padding-" + s, (pad[i] - 1) + "px"));
    const r2 = rectOf(e);
    if (r2[2] !== r0[2] || r2[3] !== r0[3]) throw new Error(sel + ": the box changes size");
  }
  return done(e, r0, { before: "1px", after: "2px" });
}
function weight(sel, w) {
  const e = el(sel), r0 = rectOf(e), before = getComputedStyle(e).fontWeight;
  e.style.fontWeight = String(w);
  return done(e, r0, { before, after: getComputedStyle(e).fontWeight });
}
`;

const frames = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

async function main() {
  const [jobsPath, resultsPath] = process.argv.slice(2);
  if (!jobsPath || !resultsPath) throw new Error("usage: node render.mjs JOBS.json RESULTS.json");
  const jobs = JSON.parse(readFileSync(jobsPath, "utf8"));
  const browsers = {};
  const launch = async (kind) => {
    if (!browsers[kind]) {
      // "rerender": a second browser process with the same flags
      const args = kind === "nosubpixel" ? [...ARGS, "--disable-font-subpixel-positioning"] : ARGS;
      browsers[kind] = await chromium.launch({ executablePath: CHROMIUM, headless: true, args });
    }
    return browsers[kind];
  };
  const contexts = {};
  const results = [];
  try {
    for (const job of jobs) {
      const t0 = performance.now();
      const browser = await launch(job.browser || "default");
      const key = `${job.browser || "default"}:${job.width}x${job.height}`;
      contexts[key] ||= await browser.newContext({ viewport: { width: job.width, height: job.height }, deviceScaleFactor: 1 });
      const page = await contexts[key].newPage();
      const errors = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(pathToFileURL(job.page).href, { waitUntil: "load" });
      await page.evaluate(() => document.fonts.ready);
      await frames(page);
      let ret = null;
      if (job.js) {
        try {
          ret = await page.evaluate(`(() => { ${HELPERS}\n return (${job.js}); })()`);
        } catch (e) {
          throw new Error(`${job.id}: ${e.message.split("\n")[0]}`);
        }
        await frames(page);
      }
      if (errors.length) throw new Error(`${job.id}: page error: ${errors[0]}`);
      await page.screenshot({ path: job.out, type: "png", fullPage: !!job.full_page, animations: "disabled", caret: "hide" });
      await page.close();
      results.push({ id: job.id, out: job.out, ret, ms: performance.now() - t0 });
    }
  } finally {
    const version = browsers.default ? browsers.default.version() : null;
    for (const b of Object.values(browsers)) await b.close();
    writeFileSync(resultsPath, JSON.stringify({ browser: version, results }, null, 1));
  }
}

main().catch((e) => {
  console.error(`render: error: ${e.message}`);
  process.exit(1);
});
