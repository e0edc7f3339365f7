// The image card in a real browser: the bridge's MCP server over streamable HTTP on loopback (three
// of them: a quick relay, a slow one that leaves a pending job, one that breaks after a partial),
// the relay emulator behind them, a host page on one origin with the published AppBridge, the
// sandbox page on a second origin, all in headless Chromium. Every data-action is driven end to
// end; screenshots are kept and their paths printed.
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import puppeteer from "puppeteer-core";
import { browserCheck, sleep } from "./browser_check.mjs";

const here = path.dirname(new URL(import.meta.url).pathname);
const chromium = process.env.CHROMIUM || "/usr/bin/chromium";
const bundle = process.env.HOST_BUNDLE || path.join(here, "host.bundle.js");
const { work, shots, python, ok, bad, check, start: startPython, logOf, run } = browserCheck("card");

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function waitPort(port, what) {
  for (let i = 0; i < 200; i++) {
    const open = await new Promise((resolve) => {
      const sock = net.connect(port, "127.0.0.1", () => { sock.destroy(); resolve(true); });
      sock.on("error", () => resolve(false));
    });
    if (open) return;
    await sleep(100);
  }
  throw new Error(`${what} did not listen on ${port}`);
}

// An isolated user: HOME, XDG folders and the project the outputs go to, all under one temp folder.
const home = path.join(work, "home");
const project = path.join(work, "project");
for (const dir of [home, project]) fs.mkdirSync(dir, { recursive: true });
const baseEnv = {
  PATH: process.env.PATH, LANG: "C.UTF-8", HOME: home, XDG_CONFIG_HOME: path.join(home, ".config"),
  XDG_DATA_HOME: path.join(home, ".local/share"), XDG_STATE_HOME: path.join(home, ".local/state"),
  XDG_CACHE_HOME: path.join(home, ".cache"), CLAUDE_PROJECT_DIR: project,
};

function start(name, args, env) {
  return startPython(name, args, { ...baseEnv, ...env });
}

async function startEmulator() {
  const child = start("emulator", ["-m", "bridge.emulator", "--port", "0"], {});
  for (let i = 0; i < 200; i++) {
    const text = fs.existsSync(child.logPath) ? fs.readFileSync(child.logPath, "utf8") : "";
    const m = text.match(/listening on (http:\/\/127\.0\.0\.1:\d+)\/v1/);
    if (m) return m[1];
    await sleep(100);
  }
  throw new Error("the emulator did not start");
}

async function startServer(name, relay, env) {
  const port = await freePort();
  start(`mcp-${name}`, ["-m", "bridge.server.app", "--transport", "streamable-http", "--port", String(port)], {
    IMAGE_RELAY_BASE_URL: relay, IMAGE_RELAY_API_KEY: "sk-card-check-0000", IMAGE_RELAY_TEXT_MODEL: "gpt-5",
    IMAGE_RELAY_IMAGE_MODEL: "gpt-image-1.5", IMAGE_RELAY_CLI_OPEN_IMAGE: "false", ...env });
  await waitPort(port, `the ${name} server`);
  return port;
}

// The host origin: the page, its bundle, and /mcp/<server> passed through to that server (a browser
// cannot call the server directly: it answers no CORS preflight). Raw tools/call answers are kept.
const rawCalls = [];
function hostServer(servers, sandboxUrl) {
  return http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (url.pathname === "/host.html") {
      const page = fs.readFileSync(path.join(here, "host.html"), "utf8")
        .replace("<script src=\"/host.js\"></script>",
                 `<script>window.SANDBOX_URL = ${JSON.stringify(sandboxUrl)};</script><script src="/host.js"></script>`);
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      return res.end(page);
    }
    if (url.pathname === "/favicon.ico") { res.writeHead(204); return res.end(); }
    if (url.pathname === "/host.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" });
      return res.end(fs.readFileSync(bundle));
    }
    const m = url.pathname.match(/^\/mcp\/(\w+)$/);
    if (!m || !servers[m[1]]) { res.writeHead(404); return res.end(); }
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const headers = { ...req.headers, host: `127.0.0.1:${servers[m[1]]}` };
      delete headers.origin;
      delete headers.referer;
      const up = http.request({ host: "127.0.0.1", port: servers[m[1]], path: "/mcp", method: req.method, headers }, (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        const isCall = body.length && /"method"\s*:\s*"tools\/call"/.test(body.toString());
        const seen = [];
        answer.on("data", (c) => { if (isCall) seen.push(c); res.write(c); });
        answer.on("end", () => {
          if (isCall) rawCalls.push({ server: m[1], request: body.toString(), response: Buffer.concat(seen).toString() });
          res.end();
        });
      });
      up.on("error", () => { res.writeHead(502); res.end(); });
      up.end(body);
    });
  });
}

// The sandbox origin: one page; its CSP (the MCP Apps default for a card that declares none) is
// inherited by the card's srcdoc iframe, so the card runs under the policy real hosts apply.
const DEFAULT_CSP = "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self' data:; media-src 'self' data:; connect-src 'none'";
function sandboxServer() {
  return http.createServer((req, res) => {
    if (!req.url.startsWith("/sandbox.html")) { res.writeHead(404); return res.end(); }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-security-policy": DEFAULT_CSP });
    res.end(fs.readFileSync(path.join(here, "sandbox.html")));
  });
}

const listen = (server, host) => new Promise((resolve) => server.listen(0, host, () => resolve(server.address().port)));

async function cardFrame(page) {
  for (let i = 0; i < 200; i++) {
    const frame = page.frames().find((f) => f.url() === "about:srcdoc");
    if (frame) return frame;
    await sleep(50);
  }
  throw new Error("the card never appeared");
}

async function shot(page, name) {
  await sleep(300);  // let the host apply the card's last size-changed
  const file = path.join(shots, name);
  await (await page.$("#slot")).screenshot({ path: file });
  console.log(`     screenshot: ${file}`);
  return file;
}

// The card data of the job the card shows, from the answers that passed through the host.
function resultOf(raw) {
  const line = raw.response.split("\n").find((l) => l.startsWith("data: ") && l.includes('"result"')) || raw.response;
  try { return JSON.parse(line.replace(/^data: /, "")).result || null; } catch { return null; }
}
function cardsOf(job) {
  return rawCalls.map(resultOf).map((r) => r && r._meta && r._meta["image-relay-bridge/card"]).filter((c) => c && c.job === job);
}
async function cardData(frame) {
  const job = await frame.evaluate(() => document.getElementById("card").dataset.job);
  const cards = cardsOf(job);
  return cards[cards.length - 1];
}

async function imageFacts(frame, index = 0) {
  return frame.evaluate((i) => {
    const img = document.querySelector(`figure[data-index="${i}"] img.image`);
    if (!img || !img.complete || !img.naturalWidth) return null;
    const c = document.createElement("canvas");
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const g = c.getContext("2d");
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    const colours = new Set();
    let lit = 0;
    for (let p = 0; p < d.length; p += 4 * 97) {
      colours.add(`${d[p] >> 3},${d[p + 1] >> 3},${d[p + 2] >> 3}`);
      if (d[p + 3] > 0 && d[p] + d[p + 1] + d[p + 2] > 30) lit++;
    }
    const box = img.getBoundingClientRect();
    return { width: img.naturalWidth, height: img.naturalHeight, full: img.dataset.full === "1", colours: colours.size,
             lit, shownWidth: Math.round(box.width), shownHeight: Math.round(box.height) };
  }, index);
}

async function click(page, frame, action) {
  const selector = `button[data-action="${action}"]:not([disabled])`;
  await frame.waitForSelector(selector, { visible: true, timeout: 20000 });
  // A click on the element itself: a mouse click at its coordinates can land beside it while the
  // full image that just arrived still moves the layout.
  await frame.$eval(selector, (button) => button.click());
}

// The proxy records a call when its answer ends, which can be just after the client has read the
// result: wait until `which` calls whose request names `text` are recorded, and return the last.
async function recorded(text, which) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const calls = rawCalls.filter((c) => c.request.includes(text));
    if (calls.length >= which) return calls[which - 1];
    if (Date.now() > deadline) throw new Error("the proxy recorded no answer to the call");
    await sleep(50);
  }
}

async function waitJobChange(frame, oldJob, timeout = 30000) {
  await frame.waitForFunction((job) => {
    const main = document.getElementById("card");
    return main && main.dataset.job && main.dataset.job !== job && main.dataset.status === "done";
  }, { timeout }, oldJob);
}

const py = (code, ...args) => execFileSync(python, ["-c", code, ...args], { env: { ...baseEnv }, encoding: "utf8" }).trim();

// The desktop entries start the same launcher: the Claude Desktop bundle (validated and packed by the
// mcpb CLI, then unpacked as Claude Desktop does) and the VS Code entry, each with its host's
// variables substituted, checked through the official MCP client.
async function desktopEntries(relay) {
  const repo = process.env.REPO_DIR;
  const mcpb = path.join(here, "..", "node_modules", ".bin", "mcpb");
  const bundle = path.join(work, "image-relay-bridge.mcpb");
  const built = execFileSync(path.join(repo, "scripts", "build-mcpb"), [bundle], { encoding: "utf8" });
  check(/validation passes/.test(built) && fs.existsSync(bundle), "the .mcpb manifest validates and the bundle packs", built.trim());
  const unpacked = path.join(work, "mcpb-unpacked");
  execFileSync(mcpb, ["unpack", bundle, unpacked], { encoding: "utf8" });
  const manifest = JSON.parse(fs.readFileSync(path.join(unpacked, "manifest.json"), "utf8"));
  const userConfig = { base_url: `${relay}/v1`, api_key: "sk-card-check-0000", text_model: "gpt-5",
                       image_model: "gpt-image-1.5", api_mode: "" };
  const fill = (text) => text.replaceAll("${__dirname}", unpacked)
    .replace(/\$\{user_config\.(\w+)\}/g, (_, key) => userConfig[key] ?? "");
  const config = manifest.server.mcp_config;
  const vscode = JSON.parse(fs.readFileSync(path.join(repo, ".vscode", "mcp.json"), "utf8")).servers["image-relay-bridge"];
  const entries = {
    "Claude Desktop bundle": { command: config.command, args: config.args.map(fill),
      env: { ...baseEnv, ...Object.fromEntries(Object.entries(config.env).map(([k, v]) => [k, fill(v)])) } },
    "VS Code entry": { command: vscode.command, args: vscode.args.map((a) => a.replaceAll("${workspaceFolder}", repo)),
      env: { ...baseEnv, IMAGE_RELAY_BASE_URL: `${relay}/v1`, IMAGE_RELAY_API_KEY: "sk-card-check-0000",
             IMAGE_RELAY_TEXT_MODEL: "gpt-5", IMAGE_RELAY_IMAGE_MODEL: "gpt-image-1.5" } },
  };
  for (const [name, entry] of Object.entries(entries)) {
    check(entry.args.some((a) => a.endsWith("scripts/launch_mcp.py")), `the ${name} runs scripts/launch_mcp.py`, entry.args.join(" "));
    const file = path.join(work, "entry.json");
    fs.writeFileSync(file, JSON.stringify({ ...entry, cwd: project }));
    let out = "", good = true;
    try { out = execFileSync(python, [path.join(here, "entry_check.py"), file], { encoding: "utf8", env: baseEnv }); }
    catch (error) { good = false; out = `${error.stdout || ""}${error.stderr || ""}`; }
    check(good, `the ${name} starts a server that binds the card, lists one tool without it and makes an image`, out.trim().slice(0, 400));
  }
}

async function main() {
  const relay = await startEmulator();
  const servers = {
    quick: await startServer("quick", `${relay}/delay=0.05/v1`, {}),
    slow: await startServer("slow", `${relay}/delay=1.2/v1`, { IMAGE_RELAY_MCP_WAIT_SECONDS: "1" }),
    broken: await startServer("broken", `${relay}/fault=cut-after-partial/delay=0.2/v1`, {}),
  };
  const sandboxHttp = sandboxServer();
  const sandboxPort = await listen(sandboxHttp, "127.0.0.1");
  const sandboxUrl = `http://localhost:${sandboxPort}/sandbox.html`;  // a second origin
  const hostHttp = hostServer(servers, sandboxUrl);
  const hostPort = await listen(hostHttp, "127.0.0.1");
  const hostUrl = `http://127.0.0.1:${hostPort}/host.html`;
  console.log(`host ${hostUrl}; sandbox ${sandboxUrl}; relay ${relay}`);

  const browser = await puppeteer.launch({ executablePath: chromium, headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--font-render-hinting=none"] });
  const errors = [];
  const pages = [];
  const newPage = async (width) => {
    const page = await browser.newPage();
    pages.push(page);
    await page.setViewport({ width: width + 40, height: 1000 });
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error" && !/favicon/.test(m.text())) errors.push(m.text()); });
    await page.goto(hostUrl);
    await page.waitForFunction(() => window.hostReady === true);
    return page;
  };
  try {
    // 1. A finished image, light theme.
    let page = await newPage(720);
    const args = { prompt: "A lighthouse on a cliff at dusk, card check", size: "1536x1024" };
    const summary = await page.evaluate((a) => window.runTool({ server: "quick", apps: true, args: a }), args);
    check(summary.uri === "ui://image-relay-bridge/card.html" && summary.resourceMime === "text/html;profile=mcp-app",
          "generate_image is bound to the card for a host with the extension", JSON.stringify(summary.uri));
    check(summary.tools.some((t) => t.name === "card_status" && t.meta.ui.visibility[0] === "app"),
          "the card's own tools are listed to it with visibility app");
    let frame = await cardFrame(page);
    await frame.waitForFunction(() => document.querySelector('figure[data-index="0"] img.image[data-full="1"]'), { timeout: 20000 });
    let facts = await imageFacts(frame);
    check(facts && facts.width === 1536 && facts.height === 1024 && facts.full,
          "the card shows the full image at its own size (1536x1024)", JSON.stringify(facts));
    check(facts && facts.colours > 8 && facts.lit > 50 && facts.shownWidth > 300,
          "the image's pixels are not blank and it is drawn large", JSON.stringify(facts));
    const text = await frame.evaluate(() => document.body.innerText);
    check(text.includes(args.prompt) && text.includes("1536x1024") && text.includes("PNG") && /Done in \d/.test(text),
          "the card shows the prompt, size, format and elapsed time", text.slice(0, 200));
    const card = summary.result._meta["image-relay-bridge/card"];
    await shot(page, "01-finished.png");

    // Keyboard: the use action from the keyboard alone.
    await frame.focus('button[data-action="use"]');
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => window.hostLog.some((e) => e.method === "ui/update-model-context"));
    const use = await page.evaluate(() => window.hostLog.find((e) => e.method === "ui/update-model-context"));
    check(use.params.content[0].text.includes(card.images[0].path),
          "use (pressed with Enter) tells the model which image was chosen", use.params.content[0].text);

    await click(page, frame, "download");
    await page.waitForFunction(() => window.hostLog.some((e) => e.method === "ui/download-file"));
    const download = await page.evaluate(() => window.hostLog.find((e) => e.method === "ui/download-file"));
    const item = download.params.contents[0];
    const onDisk = fs.readFileSync(card.images[0].path);
    check(item.type === "resource" && Buffer.from(item.resource.blob, "base64").equals(onDisk) &&
          item.resource.mimeType === "image/png" && item.resource.uri.endsWith(encodeURIComponent(card.images[0].name)),
          "download hands the host the full image file, byte for byte");

    await click(page, frame, "open-folder");
    await page.waitForFunction(() => window.hostLog.some((e) => e.method === "ui/open-link"));
    const link = await page.evaluate(() => window.hostLog.find((e) => e.method === "ui/open-link"));
    check(link.params.url === `file://${path.dirname(card.images[0].path)}` || link.params.url === card.folder,
          "open-folder asks the host to open the images' folder", link.params.url);

    // Theme from the host context, live.
    await page.evaluate(() => window.setTheme("dark"));
    await frame.waitForFunction(() => document.documentElement.dataset.theme === "dark");
    const dark = await frame.evaluate(() => getComputedStyle(document.body).backgroundColor);
    check(/rgb\((\d+), (\d+), (\d+)\)/.test(dark) && dark.match(/\d+/g).slice(0, 3).every((v) => Number(v) < 80),
          "a host-context theme change turns the card dark", dark);
    await page.evaluate(() => window.setTheme("light"));
    await frame.waitForFunction(() => document.documentElement.dataset.theme === "light");

    // regenerate: asks once, then a new job and a new file.
    await click(page, frame, "regenerate");
    const asked = await frame.evaluate(() => !document.getElementById("confirm").hidden &&
      document.getElementById("confirm-text").textContent);
    check(asked && /bills/.test(asked), "a billed action asks before it starts", asked);
    const calls = rawCalls.length;
    await click(page, frame, "cancel");
    await sleep(400);
    check(rawCalls.length === calls, "cancelling the question starts nothing");
    await click(page, frame, "regenerate");
    await click(page, frame, "confirm");
    await waitJobChange(frame, card.job);
    let now = await cardData(frame);
    check(now.images.length === 1 && now.images[0].path !== card.images[0].path && fs.existsSync(now.images[0].path),
          "regenerate makes a new image with the same arguments", JSON.stringify(now.arguments));

    // variation: n more of the same prompt.
    await frame.select("#variations", "2");
    const before = now.job;
    await click(page, frame, "variation");
    await click(page, frame, "confirm");
    await waitJobChange(frame, before);
    now = await cardData(frame);
    check(now.images.length === 2 && now.arguments.prompt === args.prompt && now.arguments.n === 2,
          "variation makes two more images of the same prompt", JSON.stringify(now.arguments));
    await frame.waitForFunction(() => document.querySelectorAll("figure.pick img.image[data-full='1']").length === 2, { timeout: 20000 });
    await frame.click('figure[data-index="1"]');
    const picked = await frame.evaluate(() => document.querySelector('figure[data-index="1"]').getAttribute("aria-pressed"));
    check(picked === "true", "a click picks the second image");
    await shot(page, "05-variations.png");

    // edit with a painted mask on the second image.
    await click(page, frame, "edit");
    await frame.type("#edit-prompt", "Put a red hat on it");
    const canvas = await frame.waitForSelector('figure[data-index="1"] canvas.mask');
    const box = await canvas.boundingBox();
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.35);
    await page.mouse.down();
    for (let s = 0; s <= 12; s++) await page.mouse.move(box.x + box.width * (0.3 + 0.035 * s), box.y + box.height * (0.35 + 0.01 * s));
    await page.mouse.up();
    await shot(page, "03a-edit-mask-painted.png");
    const source = now.images[1];
    const editFrom = now.job;
    await click(page, frame, "edit-send");
    const askedEdit = await frame.evaluate(() => document.getElementById("confirm-text").textContent);
    check(/painted area/.test(askedEdit) && /bills/.test(askedEdit), "the edit says it is billed and masked", askedEdit);
    await click(page, frame, "confirm");
    await waitJobChange(frame, editFrom);
    now = await cardData(frame);
    check(now.edit && now.sources.length === 1 && now.arguments.image_paths[0] === source.path,
          "edit runs on the picked image and shows the source beside the result", JSON.stringify(now.arguments));
    const maskFacts = JSON.parse(py(
      "import json,sys; from PIL import Image; m=Image.open(sys.argv[1]).convert('RGBA'); a=m.getchannel('A');" +
      "w,h=m.size; print(json.dumps({'size':[w,h],'clear':a.histogram()[0]," +
      "'corner':a.getpixel((0,0)),'middle':a.getpixel((int(w*0.5),int(h*0.45)))}))", now.arguments.mask_path));
    check(maskFacts.size[0] === 1536 && maskFacts.size[1] === 1024 && maskFacts.clear > 1000 && maskFacts.corner === 255 &&
          maskFacts.middle === 0, "the painted mask reached the relay at the image's size, clear where painted",
          JSON.stringify(maskFacts));
    await frame.waitForFunction(() => document.querySelector('figure[data-index="0"] img.image[data-full="1"]'), { timeout: 20000 });
    await shot(page, "03b-edit-result-beside-source.png");
    await page.close();

    // 2. A pending job in a narrow dark host: progress and partials, then the final image.
    page = await newPage(360);
    const slowArgs = { prompt: "A slow red fox in the snow", size: "1024x1024", partial_images: 2 };
    const slow = await page.evaluate((a) => window.runTool({ server: "slow", apps: true, args: a, theme: "dark", width: 360 }), slowArgs);
    const slowCard = slow.result._meta["image-relay-bridge/card"];
    check(slowCard.status === "pending" && /job_id=/.test(slow.result.content[0].text),
          "past the wait budget the result is a pending job", slowCard.status);
    frame = await cardFrame(page);
    await frame.waitForFunction(() => document.querySelector("img.partial"), { timeout: 30000 });
    const progressShown = await frame.evaluate(() => !document.getElementById("progress").hidden &&
      document.getElementById("progress-text").textContent);
    check(Boolean(progressShown), "the pending card shows progress", progressShown);
    await shot(page, "02-pending-partial.png");
    const narrow = await frame.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
    check(narrow, "nothing overflows a 360 px card");
    await frame.waitForFunction(() => document.getElementById("card").dataset.status === "done", { timeout: 60000 });
    await frame.waitForFunction(() => document.querySelector('figure[data-index="0"] img.image[data-full="1"]'), { timeout: 20000 });
    facts = await imageFacts(frame);
    const partialsSeen = new Set(cardsOf(slowCard.job).flatMap((c) => c.partials.map((p) => p.index))).size;
    check(facts && facts.width === 1024 && facts.colours > 8 && partialsSeen >= 2,
          "the pending card updated with both partials, then the final image", JSON.stringify({ facts, partialsSeen }));
    await shot(page, "02b-pending-finished.png");
    await page.close();

    // 3. A failure with its kept partial.
    page = await newPage(720);
    const broken = await page.evaluate(() => window.runTool({ server: "broken", apps: true,
      args: { prompt: "A ship that never arrives", size: "1024x1024", partial_images: 1 } }));
    check(broken.result.isError === true, "the broken relay gives an error result");
    frame = await cardFrame(page);
    await frame.waitForFunction(() => !document.getElementById("error").hidden && document.querySelector("img.partial"), { timeout: 20000 });
    const failure = await frame.evaluate(() => document.getElementById("error").textContent);
    check(/stream_broken/.test(failure), "the card shows the failure message and the kept partial", failure);
    await shot(page, "04-failure.png");
    await page.close();

    // 4. A host without the extension: one tool, no card, and the same bytes a host with it gets.
    page = await newPage(720);
    const plain = await page.evaluate(() => window.runTool({ server: "quick", apps: false, args: { prompt: "Plain result", size: "1024x1024" } }));
    check(plain.uri === null && plain.tools.length === 1 && plain.tools[0].name === "generate_image" && !(plain.tools[0].meta && plain.tools[0].meta.ui),
          "without the extension: exactly one tool, not bound to any card", JSON.stringify(plain.tools));
    check(!("image-relay-bridge/card" in (plain.result._meta || {})) && plain.result.content.map((b) => b.type).join() === "text,image",
          "without the extension: the result is text led by the tag, then the preview");
    const firstJob = (await page.evaluate(() => window.callPlain({ server: "quick", apps: true, args: { prompt: "Same job", size: "1024x1024" } })))
      ._meta["image-relay-bridge/card"].job;
    await page.evaluate((job) => window.callPlain({ server: "quick", apps: false, args: { prompt: "x", job_id: job } }), firstJob);
    const rawPlain = await recorded(firstJob, 1);
    await page.evaluate((job) => window.callPlain({ server: "quick", apps: true, args: { prompt: "x", job_id: job } }), firstJob);
    const rawApps = await recorded(firstJob, 2);
    const a = resultOf(rawApps), p = resultOf(rawPlain);
    const hadCard = Boolean(a._meta && a._meta["image-relay-bridge/card"]);
    delete a._meta["image-relay-bridge/card"];
    if (!Object.keys(a._meta).length) delete a._meta;  // the card's entry was all the _meta there was
    const [sa, sp] = [JSON.stringify(a), JSON.stringify(p)];
    let at = 0;
    while (at < sa.length && sa[at] === sp[at]) at++;
    check(hadCard && sa === sp && !/image-relay-bridge\/card/.test(rawPlain.response),
          "without the extension the wire result is the same, byte for byte, as with it minus the card's entry",
          `differ at ${at}: ${sa.slice(Math.max(0, at - 80), at + 80)} <> ${sp.slice(Math.max(0, at - 80), at + 80)}`);
    await page.close();

    check(errors.length === 0, "no script errors in host, sandbox or card", errors.join(" | "));
    await desktopEntries(relay);
  } catch (error) {
    for (const [i, page] of pages.entries()) {
      if (page.isClosed()) continue;
      const file = path.join(shots, `failed-${i}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      console.log(`     screenshot at the failure: ${file}`);
    }
    if (errors.length) console.log(`     script errors: ${errors.join(" | ")}`);
    throw error;
  } finally {
    await browser.close();
    hostHttp.close();
    sandboxHttp.close();
  }
}

await run(main);
