// The library page in a real browser: an isolated user makes three images with the CLI in two
// projects and one through the MCP server (the official client), then `image-relay-library
// --no-open` serves them and headless Chromium drives the page the way a person would: the grid,
// search, the detail view with its card, a variation confirmed (one relay request, a fifth entry)
// and one cancelled, copy, download, open folder, keyboard use, a missing file, a failure with its
// kept partial, the dark theme, a narrow window and the Chinese page. The refusals are checked over
// HTTP too. Screenshots are kept and their paths printed.
import { spawn, spawnSync, execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import puppeteer from "puppeteer-core";
import { browserCheck, sleep } from "./browser_check.mjs";

const here = path.dirname(new URL(import.meta.url).pathname);
const chromium = process.env.CHROMIUM || "/usr/bin/chromium";
const { work, shots, python, ok, bad, check, start: startPython, logOf, run } = browserCheck("library");

// An isolated user: HOME, XDG folders, two projects, and a file manager that only writes down
// what it was asked to open.
const home = path.join(work, "home");
const projects = [path.join(work, "garden"), path.join(work, "harbour")];
const fakeBin = path.join(work, "bin");
const opened = path.join(work, "opened.txt");
for (const dir of [home, ...projects, fakeBin]) fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(path.join(fakeBin, "xdg-open"), `#!/bin/sh\nprintf '%s\\n' "$1" >> '${opened}'\n`, { mode: 0o755 });
const baseEnv = {
  PATH: `${fakeBin}:${process.env.PATH}`, LANG: "C.UTF-8", HOME: home, XDG_CONFIG_HOME: path.join(home, ".config"),
  XDG_DATA_HOME: path.join(home, ".local/share"), XDG_STATE_HOME: path.join(home, ".local/state"),
  XDG_CACHE_HOME: path.join(home, ".cache"), IMAGE_RELAY_CLI_OPEN_IMAGE: "false", DISPLAY: ":404",
};

function start(name, args, env, cwd) {
  return startPython(name, args, { ...baseEnv, ...env }, cwd || work);
}
async function waitLog(child, pattern, what) {
  for (let i = 0; i < 300; i++) {
    const m = logOf(child).match(pattern);
    if (m) return m;
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  throw new Error(`${what} did not start:\n${logOf(child).slice(-2000)}`);
}
const relayPosts = (emulator) => (logOf(emulator).match(/"POST \/v1\//g) || []).length;

function raw(port, pathName, headers) {  // a request as any program could send it, not a browser
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: pathName, method: "GET", headers }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", reject);
    req.end();
  });
}

async function shot(page, name, element) {
  await sleep(250);
  const file = path.join(shots, name);
  await (element || page).screenshot({ path: file });
  console.log(`     screenshot: ${file}`);
}

// The card of the detail view now open (an earlier one may still be detaching).
const cardFrame = async (page) => {
  for (let i = 0; i < 200; i++) {
    const frame = page.frames().filter((f) => f.url().endsWith("/card") && !f.detached).pop();
    if (frame) {
      try { await frame.waitForFunction(() => document.getElementById("card")); return frame; }
      catch (e) { if (!/detached/.test(String(e))) throw e; }
    }
    await sleep(50);
  }
  throw new Error("the card never appeared in the detail view");
};
async function cardClick(frame, action) {
  const selector = `button[data-action="${action}"]:not([disabled])`;
  await frame.waitForSelector(selector, { visible: true, timeout: 20000 });
  await frame.$eval(selector, (b) => b.click());
}
const tiles = (page) => page.$$eval(".tile:not(.skeleton)", (nodes) => nodes.map((n) => ({
  prompt: n.querySelector(".prompt").textContent, img: Boolean(n.querySelector("img")),
  loaded: Boolean(n.querySelector("img") && n.querySelector("img").complete && n.querySelector("img").naturalWidth > 0),
  placeholder: (n.querySelector(".placeholder") || {}).textContent || null, id: Number(n.dataset.id) })));
async function waitTiles(page, count) {
  await page.waitForFunction((n) => document.querySelectorAll(".tile:not(.skeleton)").length === n, { timeout: 20000 }, count);
  await page.waitForFunction(() => [...document.querySelectorAll(".tile img")].every((i) => i.complete && i.naturalWidth > 0),
                             { timeout: 20000 });
  return tiles(page);
}
async function typeSearch(page, text) {
  await page.$eval("#q", (input) => { input.value = ""; input.dispatchEvent(new Event("input")); });
  if (text) await page.type("#q", text);
}
async function openTile(page, prompt) {
  const handle = await page.waitForFunction((p) => [...document.querySelectorAll(".tile")]
    .find((t) => t.querySelector(".prompt") && t.querySelector(".prompt").textContent === p), { timeout: 20000 }, prompt);
  await handle.asElement().click();
  await page.waitForFunction(() => !document.getElementById("detail").hidden);
  const frame = await cardFrame(page);
  await frame.waitForFunction(() => document.getElementById("card").getAttribute("aria-busy") === "false", { timeout: 20000 });
  return frame;
}

async function main() {
  const emulator = start("emulator", ["-m", "bridge.emulator", "--port", "0", "--delay", "0.05", "--verbose"], {});
  const relay = (await waitLog(emulator, /listening on (http:\/\/127\.0\.0\.1:\d+)\/v1/, "the emulator"))[1];
  const relayEnv = { IMAGE_RELAY_BASE_URL: `${relay}/v1`, IMAGE_RELAY_API_KEY: "sk-library-check-0000",
                     IMAGE_RELAY_TEXT_MODEL: "gpt-5", IMAGE_RELAY_IMAGE_MODEL: "gpt-image-1.5" };

  // 1. Three CLI images in two projects and one through the MCP server.
  const t0 = Date.now();
  const made = JSON.parse(execFileSync(python, [path.join(here, "make_history.py"), `${relay}/v1`, ...projects],
    { env: baseEnv, encoding: "utf8" }).trim().split("\n").pop());
  check(made.length === 4 && made.every((m) => fs.existsSync(m.path)),
        "three CLI images in two projects and one MCP image were made", `${Date.now() - t0} ms`);

  // 2. The library, as a user starts it.
  const library = start("library", ["-m", "bridge.library.main", "--no-open"], { ...relayEnv, IMAGE_RELAY_LANG: "en" });
  const url = (await waitLog(library, /serving at (http:\/\/127\.0\.0\.1:\d+\/\?k=\S+)/, "the library"))[1];
  const port = Number(new URL(url).port);
  console.log(`library ${new URL(url).origin}; relay ${relay}`);

  // The refusals, as any program on this machine or a web page could try them.
  const token = new URL(url).searchParams.get("k");
  const cookie = { Cookie: `image_relay_library_${port}=${token}` };
  const own = { Host: `127.0.0.1:${port}` };
  check(await raw(port, "/api/entries", { ...own, ...cookie }) === 200, "with its token the library answers");
  check(await raw(port, "/api/entries", { ...cookie, Host: "evil.example" }) === 421, "a foreign Host gets 421");
  check(await raw(port, "/api/entries", { ...own, ...cookie, Origin: "http://evil.example" }) === 403, "a foreign Origin gets 403");
  check(await raw(port, "/api/entries", own) === 403 && await raw(port, "/", own) === 403, "no token: refused (403)");
  const outside = await Promise.all(["/file/9999", "/file/../../../etc/passwd", `/file/${encodeURIComponent(made[0].path)}`,
                                     "/thumb/9999"].map((p) => raw(port, p, { ...own, ...cookie })));
  check(outside.every((s) => s === 404), "a path outside the history is refused (404)", outside.join());

  const browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ["--no-sandbox",
    "--disable-gpu", "--disable-dev-shm-usage", "--font-render-hinting=none", "--disable-background-networking",
    "--disable-component-update", "--no-first-run"] });
  const errors = [];
  const downloads = path.join(work, "downloads");
  const newPage = async (width = 1280, height = 900, link = url) => {
    const page = await browser.newPage();
    await page.setViewport({ width, height });
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    const cdp = await page.createCDPSession();
    await cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: downloads });
    await page.goto(link);
    await page.waitForFunction(() => window.libraryReady === true);
    return page;
  };
  await browser.defaultBrowserContext().overridePermissions(new URL(url).origin, ["clipboard-read", "clipboard-write",
    "clipboard-sanitized-write"]);
  try {
    let page = await newPage();
    check(new URL(page.url()).search === "", "the key leaves the address bar at once", page.url());

    // The grid: four thumbnails with their prompts.
    let seen = await waitTiles(page, 4);
    check(seen.every((t) => t.loaded) && made.every((m) => seen.some((t) => t.prompt === m.prompt)),
          "headless Chromium sees four thumbnails with their prompts", JSON.stringify(seen.map((t) => t.prompt)));
    check(seen[0].prompt === made[3].prompt, "newest first (the MCP image leads)", seen[0].prompt);
    const summary = await page.$eval("#summary", (n) => n.textContent);
    check(summary === "4 generations", "the summary counts them", summary);
    await page.click("#totals-button");
    await page.waitForFunction(() => document.querySelectorAll("#totals table").length === 3);
    const totals = await page.$eval("#totals", (n) => n.innerText);
    check(/^4 images/.test(totals) && totals.includes("gpt-image-2") && totals.includes("gpt-image-1.5"),
          "totals by day, month and model", totals.split("\n")[0]);
    await shot(page, "01-grid.png");
    await page.click("#totals-button");

    // Filters: a project, a model.
    const projectValue = await page.$eval("#project", (s, p) => [...s.options].find((o) => o.value === p).value, projects[0]);
    await page.select("#project", projectValue);
    seen = await waitTiles(page, 2);
    check(seen.every((t) => made.find((m) => m.prompt === t.prompt).path.startsWith(projects[0])), "the project filter keeps that project's images");
    await page.select("#project", "");
    await page.select("#model", "gpt-image-1.5");
    seen = await waitTiles(page, 1);
    check(seen[0].prompt === made[3].prompt, "the model filter keeps that model's image");
    await page.select("#model", "");
    await waitTiles(page, 4);

    // Search by a word of a prompt, then open what it found.
    await typeSearch(page, "heron");
    seen = await waitTiles(page, 1);
    check(seen[0].prompt === made[1].prompt, "a word of its prompt finds it", JSON.stringify(seen));
    await shot(page, "02-search.png");
    let frame = await openTile(page, made[1].prompt);
    await frame.waitForFunction(() => document.querySelector('figure[data-index="0"] img.image[data-full="1"]'), { timeout: 20000 });
    const full = await frame.$eval('figure[data-index="0"] img.image', (img) => ({ w: img.naturalWidth, h: img.naturalHeight,
      shown: Math.round(img.getBoundingClientRect().width) }));
    const cardText = await frame.evaluate(() => document.body.innerText);
    const facts = await page.$eval("#facts", (n) => n.innerText);
    check(full.w === 1024 && full.h === 1024 && full.shown > 400, "the detail shows the full image large", JSON.stringify(full));
    check(cardText.includes(made[1].prompt) && cardText.includes("1024x1024") && /Done in \d/.test(cardText),
          "the card shows the prompt, size and time", cardText.slice(0, 160));
    check(facts.includes("Cost") && facts.includes(projects[0]) && facts.includes("the command line") && facts.includes("gpt-image-2"),
          "the facts beside it: cost, project, model, who made it", facts.replace(/\n/g, " | ").slice(0, 300));
    await shot(page, "03-detail.png");

    await page.click("#copy-prompt");
    check(await page.evaluate(() => navigator.clipboard.readText()) === made[1].prompt, "copy prompt puts the prompt on the clipboard");
    await page.click("#copy-tag");
    const tag = await page.evaluate(() => navigator.clipboard.readText());
    check(tag === `![${made[1].prompt}](${made[1].path})`, "copy Markdown tag puts the image's tag on the clipboard", tag);

    await cardClick(frame, "open-folder");
    await page.waitForFunction(() => /Opened/.test(document.getElementById("detail-status").textContent), { timeout: 10000 });
    const folders = fs.existsSync(opened) ? fs.readFileSync(opened, "utf8").trim().split("\n") : [];
    check(folders.length === 1 && folders[0] === path.dirname(made[1].path), "open folder opens the image's folder", folders.join());

    await cardClick(frame, "download");
    const name = path.basename(made[1].path);
    for (let i = 0; i < 100 && !fs.existsSync(path.join(downloads, name)); i++) await sleep(100);
    const got = fs.existsSync(path.join(downloads, name)) && fs.readFileSync(path.join(downloads, name));
    check(got && got.equals(fs.readFileSync(made[1].path)), "download saves the full file, byte for byte");

    // A billed action asked and cancelled: nothing is sent.
    let posts = relayPosts(emulator);
    await frame.select("#variations", "1");
    await cardClick(frame, "variation");
    const asked = await frame.$eval("#confirm-text", (n) => n.textContent);
    check(/bills/.test(asked), "a variation asks once before anything is sent", asked);
    await page.$eval(".sheet-body", (n) => { n.scrollTop = n.scrollHeight; });
    await shot(page, "04-confirm.png");
    await cardClick(frame, "cancel");
    await sleep(800);
    check(relayPosts(emulator) === posts, "cancelled: no request reached the relay");
    await shot(page, "05-cancelled.png");

    // ... and confirmed: one relay request, a fifth entry.
    const before = await frame.$eval("#card", (n) => n.dataset.job);
    await cardClick(frame, "variation");
    await cardClick(frame, "confirm");
    await frame.waitForFunction((job) => { const m = document.getElementById("card");
      return m.dataset.job !== job && m.dataset.status === "done"; }, { timeout: 60000 }, before);
    await frame.waitForFunction(() => document.querySelector('figure[data-index="0"] img.image[data-full="1"]'), { timeout: 20000 });
    check(relayPosts(emulator) === posts + 1, "the confirmed variation made exactly one relay request",
          `${relayPosts(emulator) - posts} requests`);
    await shot(page, "06-variation.png");
    const listed = await page.evaluate(async () => (await (await fetch("/api/entries")).json()));
    const variation = listed.entries[0];
    check(listed.total === 5 && variation.prompt === made[1].prompt, "a fifth entry leads the history", JSON.stringify(listed.entries.map((e) => e.prompt)));
    check(variation.face === "library" && variation.status === "ok", "it is recorded as the library's", JSON.stringify(variation).slice(0, 200));

    // An edit with a painted mask, on the variation just made.
    posts = relayPosts(emulator);
    const fromJob = await frame.$eval("#card", (n) => n.dataset.job);
    await cardClick(frame, "edit");
    await frame.type("#edit-prompt", "put a small boat on the pond");
    const canvas = await frame.waitForSelector('figure[data-index="0"] canvas.mask');
    const box = await canvas.boundingBox();
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.6);
    await page.mouse.down();
    for (let s = 0; s <= 10; s++) await page.mouse.move(box.x + box.width * (0.3 + 0.03 * s), box.y + box.height * 0.62);
    await page.mouse.up();
    await cardClick(frame, "edit-send");
    const askedEdit = await frame.$eval("#confirm-text", (n) => n.textContent);
    check(/painted area/.test(askedEdit) && /bills/.test(askedEdit), "a masked edit asks once", askedEdit);
    await page.$eval(".sheet-body", (n) => { n.scrollTop = n.scrollHeight; });
    await shot(page, "06b-edit-mask.png");
    await cardClick(frame, "confirm");
    await frame.waitForFunction((job) => { const m = document.getElementById("card");
      return m.dataset.job !== job && m.dataset.status === "done"; }, { timeout: 60000 }, fromJob);
    const edited = await page.evaluate(async () => (await (await fetch("/api/entries?limit=1")).json()).entries[0]);
    const editDetail = await page.evaluate(async (id) => (await (await fetch(`/api/entry/${id}`)).json()), edited.id);
    check(relayPosts(emulator) === posts + 1 && edited.kind === "edit" && editDetail.card.edit &&
          /"mask_path":\s*"[^"]+mask-[0-9a-f]+\.png"/.test(JSON.stringify(editDetail.card.arguments)),
          "the edit ran once on that image with the painted mask", JSON.stringify(editDetail.card.arguments).slice(0, 300));
    await frame.waitForFunction(() => document.querySelector("figure.source img") &&
      document.querySelector('figure[data-index="0"] img.image[data-full="1"]'), { timeout: 20000 });
    ok("the edit's result shows its source beside it");
    await shot(page, "06c-edit-result.png");
    await page.keyboard.press("Escape");
    await typeSearch(page, "");
    seen = await waitTiles(page, 6);
    check(seen[0].prompt === "put a small boat on the pond" && seen[1].prompt === made[1].prompt,
          "the grid shows both new entries, newest first", JSON.stringify(seen.map((t) => t.prompt)));

    // Keyboard: Tab to the grid, arrows between tiles, Enter opens, Escape closes and returns focus, / to search.
    await page.focus(".tile");
    await page.keyboard.press("ArrowRight");
    let focused = await page.evaluate(() => document.activeElement.dataset.index);
    check(focused === "1", "ArrowRight moves to the next tile", focused);
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => !document.getElementById("detail").hidden);
    await cardFrame(page);
    await page.waitForFunction(() => document.activeElement.id === "close", { timeout: 5000 }).catch(() => {});
    const inside = await page.evaluate(() => `${document.activeElement.tagName}#${document.activeElement.id}`);
    check(inside === "BUTTON#close", "Enter opens the tile; focus goes into the dialog", inside);
    await page.keyboard.press("Escape");
    await page.waitForFunction(() => document.getElementById("detail").hidden);
    focused = await page.evaluate(() => document.activeElement.dataset && document.activeElement.dataset.index);
    check(focused === "1", "Escape closes it and focus returns to the tile", focused);
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("/");
    check(await page.evaluate(() => document.activeElement.id) === "q", "/ goes to the search box");
    await page.focus(".tile[data-index='2']");
    await shot(page, "07-keyboard.png");

    // A missing file: still listed, marked, its card says so.
    fs.unlinkSync(made[2].path);
    await page.reload();
    await page.waitForFunction(() => window.libraryReady === true);
    await page.waitForFunction((p) => [...document.querySelectorAll(".tile")].some((t) =>
      t.querySelector(".prompt") && t.querySelector(".prompt").textContent === p && t.querySelector(".placeholder")), { timeout: 20000 }, made[2].prompt);
    seen = await tiles(page);
    const gone = seen.find((t) => t.prompt === made[2].prompt);
    check(gone && !gone.img && gone.placeholder === "File missing", "a deleted file stays listed, marked missing", JSON.stringify(gone));
    await shot(page, "08-missing.png");
    frame = await openTile(page, made[2].prompt);
    await frame.waitForFunction(() => /no longer on this machine/.test(document.body.innerText), { timeout: 20000 });
    check(/File missing/.test(await page.$eval("#facts", (n) => n.innerText)), "its detail marks the file missing");
    await shot(page, "08b-missing-detail.png");
    await page.keyboard.press("Escape");

    // A failure with its kept partial.
    const broke = spawnSync(python, ["-m", "bridge.cli", "--no-open", "--partial-images", "1", "a ship that never arrives"], {
      cwd: projects[1], env: { ...baseEnv, ...relayEnv, IMAGE_RELAY_BASE_URL: `${relay}/fault=cut-after-partial/v1` } });
    check(broke.status === 9, "a broken stream after a partial ends the CLI with exit 9", String(broke.status));
    await page.reload();
    await page.waitForFunction(() => window.libraryReady === true);
    await waitTiles(page, 7);
    frame = await openTile(page, "a ship that never arrives");
    await frame.waitForFunction(() => !document.getElementById("error").hidden && document.querySelector("img.partial"), { timeout: 20000 });
    const failure = await frame.$eval("#error", (n) => n.textContent);
    const partials = await page.$eval("#facts", (n) => n.innerText);
    check(/stream_broken/.test(failure) && /Partial/.test(partials), "a failure shows its error and the kept partial", failure);
    await shot(page, "09-failure.png");
    await page.keyboard.press("Escape");

    // The dark theme: page and card.
    await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);
    const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    check(dark.match(/\d+/g).slice(0, 3).every((v) => Number(v) < 80), "the page follows the dark theme", dark);
    await shot(page, "10-dark-grid.png");
    frame = await openTile(page, made[0].prompt);
    await frame.waitForFunction(() => document.documentElement.dataset.theme === "dark");
    const cardDark = await frame.evaluate(() => getComputedStyle(document.body).backgroundColor);
    check(cardDark.match(/\d+/g).slice(0, 3).every((v) => Number(v) < 80), "the card is dark too", cardDark);
    await frame.waitForFunction(() => document.querySelector('figure[data-index="0"] img.image[data-full="1"]'), { timeout: 20000 });
    await shot(page, "10b-dark-detail.png");
    await page.keyboard.press("Escape");
    await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "light" }]);

    // A narrow window: two columns, nothing overflows.
    const narrow = await newPage(380, 800);
    await waitTiles(narrow, 7);
    const fit = await narrow.evaluate(() => ({ overflow: document.documentElement.scrollWidth - window.innerWidth,
      columns: getComputedStyle(document.getElementById("window")).gridTemplateColumns.split(" ").length }));
    check(fit.overflow <= 0 && fit.columns === 2, "a 380 px window: two columns, nothing overflows", JSON.stringify(fit));
    await shot(narrow, "11-narrow.png");
    frame = await openTile(narrow, made[3].prompt);
    const narrowFit = await narrow.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(narrowFit <= 0, "the detail fits a narrow window", String(narrowFit));
    await shot(narrow, "11b-narrow-detail.png");
    await narrow.close();

    // The page in Chinese (IMAGE_RELAY_LANG=zh-CN), the card with it.
    const zhLibrary = start("library-zh", ["-m", "bridge.library.main", "--no-open", "--port", "0"],
                            { ...relayEnv, IMAGE_RELAY_LANG: "zh-CN" });
    const zhUrl = (await waitLog(zhLibrary, / serving at (http:\/\/127\.0\.0\.1:\d+\/\?k=\S+)/, "the Chinese library"))[1];
    const zh = await newPage(1280, 900, zhUrl);
    await waitTiles(zh, 7);
    const zhText = await zh.evaluate(() => document.body.innerText);
    check(zhText.includes("图片库") && zhText.includes("共 7 次生成"), "the page speaks Chinese", zhText.slice(0, 80));
    await shot(zh, "12-chinese-grid.png");
    frame = await openTile(zh, made[0].prompt);
    await frame.waitForFunction(() => /重新生成/.test(document.body.innerText), { timeout: 20000 });
    check(/秒完成/.test(await frame.evaluate(() => document.body.innerText)), "the card speaks Chinese with it");
    await shot(zh, "12b-chinese-detail.png");
    await zh.close();

    check(errors.length === 0, "no script errors on the page or in the card", errors.join(" | "));
  } finally {
    await browser.close();
  }
}

await run(main);
