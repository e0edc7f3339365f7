// The image card in the MCP Inspector's web client (a real MCP Apps host), by hand:
//   node inspector.mjs            (checks/check-card-inspector sets the environment)
// Starts the relay emulator and the Inspector's web UI with image-relay-mcp over stdio, then in
// headless Chromium: connect, open generate_image in the Apps tab, run it, check the card shows the
// full image, regenerate from the card, download through the host. Screenshots are kept.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import puppeteer from "puppeteer-core";

const python = process.env.PYTHON || "python3";
const inspector = process.env.INSPECTOR;  // the Inspector's launcher script
const shots = process.env.SHOTS_DIR || fs.mkdtempSync(path.join(os.tmpdir(), "inspector-shots-"));
const work = fs.mkdtempSync(path.join(os.tmpdir(), "card-inspector-"));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = [];
let failures = 0;
const check = (cond, what, detail) => {
  console.log(`${cond ? "ok  " : "FAIL"} ${what}${!cond && detail ? `: ${detail}` : ""}`);
  if (!cond) failures++;
};

function start(args, env, log) {
  const child = spawn(args[0], args.slice(1), { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"],
                                                detached: true });
  const out = fs.createWriteStream(log);
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  children.push(child);
  return child;
}

async function waitFor(file, pattern) {
  for (let i = 0; i < 300; i++) {
    const m = fs.existsSync(file) && fs.readFileSync(file, "utf8").match(pattern);
    if (m) return m;
    await sleep(100);
  }
  throw new Error(`nothing matched ${pattern} in ${file}`);
}

const home = path.join(work, "home");
const project = path.join(work, "project");
fs.mkdirSync(home, { recursive: true });
fs.mkdirSync(project, { recursive: true });
const isolated = { HOME: home, XDG_CONFIG_HOME: path.join(home, ".config"), XDG_DATA_HOME: path.join(home, ".local/share"),
                   XDG_STATE_HOME: path.join(home, ".local/state"), XDG_CACHE_HOME: path.join(home, ".cache") };
let browser;
try {
  start([python, "-m", "bridge.emulator", "--port", "0"], isolated, path.join(work, "emulator.log"));
  const relay = (await waitFor(path.join(work, "emulator.log"), /listening on (http:\/\/\S+\/v1)/))[1];
  const server = process.env.IMAGE_RELAY_MCP || "image-relay-mcp";
  start(["node", inspector, "--web", "-e", `IMAGE_RELAY_BASE_URL=${relay}`, "-e", "IMAGE_RELAY_API_KEY=sk-inspector-0000",
         "-e", "IMAGE_RELAY_TEXT_MODEL=gpt-5", "-e", `CLAUDE_PROJECT_DIR=${project}`, "--transport", "stdio", "--", server],
        { ...isolated, MCP_INSPECTOR_SECRET_STORE: "memory", MCP_AUTO_OPEN_ENABLED: "false", BROWSER: "none",
          CLIENT_PORT: process.env.CLIENT_PORT || "16284", SERVER_PORT: process.env.SERVER_PORT || "16287" },
        path.join(work, "inspector.log"));
  const url = (await waitFor(path.join(work, "inspector.log"), /(http:\/\/127\.0\.0\.1:\d+\?MCP_INSPECTOR_API_TOKEN=\w+)/))[1];

  browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true,
                                     args: ["--no-sandbox", "--disable-dev-shm-usage"] });
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 1100 });
  const dialogs = [];
  page.on("dialog", async (d) => { dialogs.push(d.message()); await d.accept(); });
  await page.goto(url);
  await page.waitForSelector("input[type=checkbox], [role=switch]");
  await page.click("input[type=checkbox], [role=switch]");
  await page.waitForSelector("::-p-text(Apps)", { timeout: 30000 });
  await sleep(1000);
  await page.click("::-p-text(Apps)");
  await page.waitForSelector("::-p-text(card_status)", { timeout: 20000 });
  await page.click("::-p-text(generate_image)");
  await page.waitForSelector("::-p-text(Open App)");
  const promptId = await page.evaluate(() => {
    const label = [...document.querySelectorAll("label")].find((l) => /^Prompt(?!s)/.test(l.innerText.trim()));
    return label && label.htmlFor;
  });
  await page.focus(`[id="${promptId}"]`);
  await page.keyboard.type("A lighthouse at dusk, seen in the MCP Inspector");
  await sleep(300);
  await (await page.$("::-p-text(Open App)")).evaluate((e) => (e.closest("button") || e).click());
  let card;
  for (let i = 0; i < 200 && !card; i++) { card = page.frames().find((f) => f.url() === "about:srcdoc"); await sleep(100); }
  check(Boolean(card), "the Inspector renders the card in its sandbox");
  await card.waitForFunction(() => { const i = document.querySelector("img.image[data-full='1']"); return i && i.complete && i.naturalWidth > 0; },
                             { timeout: 30000 });
  const size = await card.evaluate(() => { const i = document.querySelector("img.image"); return [i.naturalWidth, i.naturalHeight]; });
  check(size[0] === 1024 && size[1] === 1024, "the card shows the full image read through the Inspector", String(size));
  await page.screenshot({ path: path.join(shots, "inspector-finished.png") });
  const job = await card.evaluate(() => document.getElementById("card").dataset.job);
  await card.click('button[data-action="regenerate"]');
  await card.click('button[data-action="confirm"]');
  await card.waitForFunction((j) => { const m = document.getElementById("card"); return m.dataset.job !== j && m.dataset.status === "done"; },
                             { timeout: 30000 }, job);
  check(true, "regenerate runs through the Inspector's proxy to the card's own tools");
  await card.click('button[data-action="download"]');
  for (let i = 0; i < 50 && !dialogs.length; i++) await sleep(100);
  check(dialogs.some((d) => /download/i.test(d)), "download reaches the Inspector, which asks the user", dialogs.join(" | "));
  await sleep(500);
  await page.screenshot({ path: path.join(shots, "inspector-after-regenerate-download.png") });
  console.log(`screenshots in ${shots}`);
} catch (error) {
  check(false, "the Inspector check ran to its end", error.stack || String(error));
} finally {
  if (browser) await browser.close();
  for (const child of children) { try { process.kill(-child.pid, "SIGTERM"); } catch { /* gone */ } }
  fs.rmSync(work, { recursive: true, force: true });
}
process.exit(failures ? 1 : 0);
