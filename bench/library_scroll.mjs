// The library page's memory while scrolling a long history (run by bench/bench_library.py).
// Usage: node library_scroll.mjs URL CHROMIUM RECORDS. Scrolls from the top to the end in 40 steps;
// at each, after the pages in view arrived, reads the JS heap (after a garbage collection), the
// DOM's node count, the tiles drawn and the pages fetched so far. Prints a table and a verdict.
import puppeteer from "puppeteer-core";

const [url, chromium, records] = process.argv.slice(2);
const browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ["--no-sandbox",
  "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--js-flags=--expose-gc"] });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  let fetched = 0;
  page.on("request", (r) => { if (r.url().includes("/api/entries")) fetched++; });
  const cdp = await page.createCDPSession();
  await cdp.send("Performance.enable");
  await page.goto(url);
  await page.waitForFunction(() => document.querySelector(".tile:not(.skeleton) img"), { timeout: 30000 });
  const rows = [];
  const steps = 40;
  for (let step = 0; step <= steps; step++) {
    await page.evaluate((s, n) => window.scrollTo(0, (document.documentElement.scrollHeight - innerHeight) * s / n), step, steps);
    await page.waitForFunction(() => !document.querySelector(".tile.skeleton"), { timeout: 30000 });
    await sleep(150);
    await page.evaluate(() => window.gc && window.gc());
    const metrics = Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]));
    const tiles = await page.$$eval(".tile", (t) => t.length);
    const first = await page.$eval(".tile", (t) => Number(t.dataset.index));
    rows.push({ step, first, heap: metrics.JSHeapUsedSize / 1048576, nodes: metrics.Nodes, tiles, fetched });
  }
  console.log("scroll step  first tile  JS heap MB  DOM nodes  tiles drawn  pages fetched");
  for (const r of rows.filter((r) => r.step % 5 === 0)) {
    console.log(`${String(r.step).padStart(11)}  ${String(r.first).padStart(10)}  ${r.heap.toFixed(1).padStart(10)}  ` +
                `${String(r.nodes).padStart(9)}  ${String(r.tiles).padStart(11)}  ${String(r.fetched).padStart(13)}`);
  }
  const heaps = rows.slice(1).map((r) => r.heap), nodes = rows.slice(1).map((r) => r.nodes);
  console.log(`scrolling ${records} records: JS heap ${Math.min(...heaps).toFixed(1)}-${Math.max(...heaps).toFixed(1)} MB, ` +
              `DOM nodes ${Math.min(...nodes)}-${Math.max(...nodes)}, tiles drawn at most ${Math.max(...rows.map((r) => r.tiles))}, ` +
              `${rows[rows.length - 1].fetched} page requests (the last row reached: ${rows[rows.length - 1].first + rows[rows.length - 1].tiles})`);
} finally {
  await browser.close();
}
