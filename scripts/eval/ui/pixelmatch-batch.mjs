// pixelmatch over many pairs in one process, for scripts/eval/peer-eval.py.
//
//   node scripts/eval/ui/pixelmatch-batch.mjs JOBS.json
//
// JOBS.json: [{"a": "A.png", "b": "B.png", "mask": "OUT.png"}]. For each job: both PNGs
// are decoded (pngjs) and compared by pixelmatch with its defaults (threshold 0.1;
// anti-aliased pixels detected and not counted, includeAA false); the differing pixels go
// to OUT.png as a diff mask (diffMask: true: opaque red where different, transparent
// elsewhere), written only when some pixel differs. Prints one JSON line per job:
// {"i", "pixels", "ms"} (ms: decode + compare, not the mask write) or {"i", "error"}.
import { readFileSync, writeFileSync } from "node:fs";
import pixelmatch from "pixelmatch";
import { PNG } from "pngjs";

const jobs = JSON.parse(readFileSync(process.argv[2], "utf8"));
jobs.forEach((job, i) => {
  try {
    const t0 = performance.now();
    const a = PNG.sync.read(readFileSync(job.a));
    const b = PNG.sync.read(readFileSync(job.b));
    if (a.width !== b.width || a.height !== b.height) {
      throw new Error(`sizes differ: ${a.width}x${a.height} vs ${b.width}x${b.height}`);
    }
    const out = new PNG({ width: a.width, height: a.height });
    const n = pixelmatch(a.data, b.data, out.data, a.width, a.height, { threshold: 0.1, diffMask: true });
    const ms = performance.now() - t0;
    if (n > 0) writeFileSync(job.mask, PNG.sync.write(out));
    console.log(JSON.stringify({ i, pixels: n, ms }));
  } catch (e) {
    console.log(JSON.stringify({ i, error: e.message }));
  }
});
