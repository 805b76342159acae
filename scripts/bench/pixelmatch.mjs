// pixelmatch peer for the benchmark: node pixelmatch.mjs A.png B.png DIFF.png
// Prints the number of mismatched pixels. Exit 0 if none, 1 if some, 2 on error.
// pixelmatch and pngjs are resolved from .deps/bench/node (set NODE_PATH, or run
// from a folder whose node_modules has them; bench.sh sets BENCH_NODE_MODULES).
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.BENCH_NODE_MODULES;
if (!modules) {
  console.error("error: set BENCH_NODE_MODULES to the node_modules folder with pixelmatch and pngjs");
  process.exit(2);
}
const require = createRequire(join(modules, "noop.js"));

try {
  const [a, b, out] = process.argv.slice(2);
  if (!a || !b || !out) throw new Error("usage: node pixelmatch.mjs A.png B.png DIFF.png");
  const { PNG } = require("pngjs");
  const pixelmatch = (await import(pathToFileURL(require.resolve("pixelmatch")).href)).default;
  const img1 = PNG.sync.read(readFileSync(a));
  const img2 = PNG.sync.read(readFileSync(b));
  const { width, height } = img1;
  if (img2.width !== width || img2.height !== height) {
    throw new Error(`sizes differ: ${width}x${height} vs ${img2.width}x${img2.height}`);
  }
  const diff = new PNG({ width, height });
  const n = pixelmatch(img1.data, img2.data, diff.data, width, height, { threshold: 0.1 });
  writeFileSync(out, PNG.sync.write(diff));
  console.log(`${n} different pixels`);
  process.exit(n > 0 ? 1 : 0);
} catch (e) {
  console.error(`error: ${e.message}`);
  process.exit(2);
}
