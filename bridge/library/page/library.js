// The library page: a grid of every recorded image, newest first, loaded a page at a time and
// drawn only where the window is (so a history of any length costs the same memory), search and
// filters, totals, and a detail view that hosts the MCP Apps image card (server/card/card.html),
// answering its calls with the library's own endpoints.
"use strict";
(() => {
  const cfg = JSON.parse(document.getElementById("config").textContent);
  const S = cfg.strings;
  const t = (key, vars) => (S[key] || key).replace(/\{(\w+)\}/g, (_, k) => (vars && k in vars ? String(vars[k]) : ""));
  const $ = (id) => document.getElementById(id);
  const KEY = "image-relay-bridge/card";
  const PAGE = 60;
  const GAP = 12;
  const KEEP_PAGES = 4;  // pages kept on each side of the visible ones
  const state = { filters: {}, total: 0, pages: new Map(), loading: new Set(), generation: 0,
                  cols: 1, rowHeight: 260, nodes: new Map(), focusAfter: null };

  // -- text --------------------------------------------------------------------------------
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const el of document.querySelectorAll("[data-t-placeholder]")) el.placeholder = t(el.dataset.tPlaceholder);
  for (const el of document.querySelectorAll("[data-t-label]")) el.setAttribute("aria-label", t(el.dataset.tLabel));
  for (const el of document.querySelectorAll("[data-t-title]")) el.title = t(el.dataset.tTitle);
  const when = (seconds) => new Date(seconds * 1000).toLocaleString(cfg.lang, { dateStyle: "medium", timeStyle: "short" });
  const money = (v) => (v == null ? "" : "$" + (v >= 1 ? v.toFixed(2) : v.toFixed(4)));
  const el = (tag, props, ...kids) => {
    const node = Object.assign(document.createElement(tag), props || {});
    for (const kid of kids) if (kid != null) node.append(kid);
    return node;
  };

  // -- requests ----------------------------------------------------------------------------
  async function api(path, options) {
    const response = await fetch(path, { credentials: "same-origin", ...options });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }
  const post = (path, body) => api(path, { method: "POST", body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", "X-CSRF-Token": cfg.csrf } });
  const queryString = () => new URLSearchParams(Object.entries(state.filters).filter(([, v]) => v)).toString();

  // -- filters -----------------------------------------------------------------------------
  const base = (path) => path.split(/[\\/]/).filter(Boolean).pop() || path;
  async function loadFacets() {
    const facets = await api("/api/facets");
    const fill = (select, label, items, name) => {
      const current = select.value;
      select.replaceChildren(el("option", { value: "", textContent: label }),
        ...items.map((i) => el("option", { value: i.value, textContent: `${name(i.value)} (${i.count})`, title: i.value })));
      select.value = current;
    };
    fill($("project"), t("all_projects"), facets.projects, base);
    fill($("model"), t("all_models"), facets.models, (v) => v || t("unknown"));
  }
  $("status").replaceChildren(...["", "ok", "failed", "running", "missing"].map((v) =>
    el("option", { value: v, textContent: t(v ? "status_" + v : "all_statuses") })));
  let typing = null;
  $("q").addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(applyFilters, 180); });
  for (const id of ["project", "model", "status", "since", "until"]) $(id).addEventListener("change", applyFilters);
  function applyFilters() {
    state.filters = { q: $("q").value.trim(), project: $("project").value, model: $("model").value,
                      status: $("status").value, since: $("since").value, until: $("until").value };
    reload();
    if (!$("totals").hidden) loadTotals();
  }

  // -- the grid: pages of entries, drawn only where the window is ---------------------------
  function reload() {
    state.generation++;
    state.pages.clear();
    state.loading.clear();
    state.total = 0;
    state.known = false;
    ensure(0);
  }

  function ensure(page) {
    if (state.pages.has(page) || state.loading.has(page)) return;
    const generation = state.generation;
    state.loading.add(page);
    api(`/api/entries?offset=${page * PAGE}&limit=${PAGE}&${queryString()}`).then((body) => {
      if (generation !== state.generation) return;
      state.loading.delete(page);
      state.pages.set(page, body.entries);
      state.total = body.total;
      state.known = true;
      summary();
      layout();
    }).catch((e) => { state.loading.delete(page); $("summary").textContent = t("load_failed", { reason: e.message }); });
  }

  function summary() {
    $("summary").textContent = state.filters.q ? t("found", { n: state.total }) : t("entries", { n: state.total });
    $("empty").hidden = state.total > 0;
    $("empty").textContent = state.filters.q || Object.values(state.filters).some(Boolean) ? t("nothing_found") : t("empty");
  }

  function layout() {
    const grid = $("grid");
    const width = grid.clientWidth || window.innerWidth;
    const min = width < 480 ? 140 : 180;
    state.cols = Math.max(1, Math.floor((width + GAP) / (min + GAP)));
    const tile = (width - GAP * (state.cols - 1)) / state.cols;
    state.rowHeight = Math.ceil(tile + 64);
    const rows = Math.ceil(state.total / state.cols);
    grid.style.height = `${Math.max(0, rows * (state.rowHeight + GAP) - GAP)}px`;
    const win = $("window");
    win.style.gridTemplateColumns = `repeat(${state.cols}, minmax(0, 1fr))`;
    win.style.setProperty("--row", `${state.rowHeight}px`);
    render();
  }

  function visibleRows() {
    const top = $("grid").getBoundingClientRect().top + window.scrollY;
    const step = state.rowHeight + GAP;
    const first = Math.max(0, Math.floor((window.scrollY - top) / step) - 1);
    const last = Math.ceil((window.scrollY - top + window.innerHeight) / step) + 1;
    return [first, Math.min(last, Math.ceil(state.total / state.cols))];
  }

  let drawing = false;
  const schedule = () => { if (!drawing) { drawing = true; requestAnimationFrame(() => { drawing = false; render(); }); } };
  window.addEventListener("scroll", schedule, { passive: true });
  window.addEventListener("resize", () => requestAnimationFrame(layout));

  function render() {
    const [first, last] = visibleRows();
    const from = first * state.cols;
    const to = Math.min(state.total, last * state.cols);
    const win = $("window");
    win.style.transform = `translateY(${first * (state.rowHeight + GAP)}px)`;
    const firstPage = Math.floor(from / PAGE), lastPage = Math.floor(Math.max(from, to - 1) / PAGE);
    for (let p = firstPage; p <= lastPage && state.known !== false; p++) ensure(p);
    if (!state.known) ensure(0);
    for (const p of state.pages.keys()) {  // what is far away is dropped and fetched again if needed
      if (p < firstPage - KEEP_PAGES || p > lastPage + KEEP_PAGES) state.pages.delete(p);
    }
    const nodes = [];
    const next = new Map();
    for (let i = from; i < to; i++) {
      const entry = (state.pages.get(Math.floor(i / PAGE)) || [])[i % PAGE];
      const key = entry ? `e${entry.id}:${entry.missing}` : `s${i}`;
      const node = state.nodes.get(key) || tileNode(entry, i);
      node.dataset.index = i;
      next.set(key, node);
      nodes.push(node);
    }
    const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest(".tile");
    win.replaceChildren(...nodes);
    state.nodes = next;
    if (focused && nodes.includes(focused)) focused.focus({ preventScroll: true });
    if (state.focusAfter != null) {
      const target = win.querySelector(`.tile[data-index="${state.focusAfter}"]`);
      if (target) { target.focus({ preventScroll: true }); if (!target.classList.contains("skeleton")) state.focusAfter = null; }
    }
  }

  function tileNode(entry, index) {
    if (!entry) return el("button", { type: "button", className: "tile skeleton", tabIndex: -1 },
      el("span", { className: "thumb" }), el("span", { className: "prompt", textContent: "…" }));
    const node = el("button", { type: "button", className: "tile", tabIndex: 0 });
    node.dataset.id = entry.id;
    node.setAttribute("aria-label", `${entry.prompt} · ${when(entry.started)}`);
    const thumb = el("span", { className: "thumb" });
    if (entry.thumb && !entry.missing) {
      thumb.append(el("img", { src: `/thumb/${entry.thumb}`, alt: "", loading: "lazy", decoding: "async" }));
    } else {
      thumb.append(el("span", { className: "placeholder", textContent:
        entry.missing ? t("file_missing") : entry.status === "running" ? t("status_running") : t("no_image") }));
    }
    const badge = entry.missing ? t("file_missing") : entry.status === "ok" ? null :
      t("status_" + (entry.status === "running" ? "running" : "failed"));
    if (badge && entry.thumb && !entry.missing) thumb.append(el("span", { className: "badge", textContent: badge }));
    const meta = [when(entry.started), entry.size, entry.model, money(entry.cost), entry.project].filter(Boolean).join(" · ");
    node.append(thumb, el("span", { className: "prompt", textContent: entry.prompt }),
                el("span", { className: "meta", textContent: meta }));
    node.addEventListener("click", () => openDetail(entry.id, node));
    return node;
  }

  // Keyboard: arrows move between tiles, Enter opens one, / goes to the search box.
  $("window").addEventListener("keydown", (e) => {
    const tile = e.target.closest(".tile");
    if (!tile) return;
    const i = Number(tile.dataset.index);
    const rows = Math.max(1, Math.floor(window.innerHeight / (state.rowHeight + GAP)));
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: state.cols, ArrowUp: -state.cols,
                    PageDown: rows * state.cols, PageUp: -rows * state.cols, Home: -i, End: state.total - 1 - i };
    if (!(e.key in moves)) return;
    e.preventDefault();
    focusIndex(Math.max(0, Math.min(state.total - 1, i + moves[e.key])));
  });
  function focusIndex(i) {
    const step = state.rowHeight + GAP;
    const top = $("grid").getBoundingClientRect().top + window.scrollY + Math.floor(i / state.cols) * step;
    const header = document.querySelector(".bar").offsetHeight;
    if (top < window.scrollY + header) window.scrollTo(0, top - header - GAP);
    else if (top + state.rowHeight > window.scrollY + window.innerHeight) window.scrollTo(0, top + state.rowHeight - window.innerHeight + GAP);
    state.focusAfter = i;
    render();
  }
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && $("detail").hidden && !/INPUT|SELECT|TEXTAREA/.test(document.activeElement.tagName)) {
      e.preventDefault();
      $("q").focus();
    } else if (e.key === "Escape" && !$("detail").hidden) {
      closeDetail();
    }
  });

  // -- totals ------------------------------------------------------------------------------
  $("totals-button").addEventListener("click", () => {
    const open = $("totals").hidden;
    $("totals").hidden = !open;
    $("totals-button").setAttribute("aria-expanded", String(open));
    if (open) loadTotals();
  });
  async function loadTotals() {
    const data = await api(`/api/totals?${queryString()}`);
    const images = data.month.reduce((n, r) => n + (r.images || 0), 0);
    const cost = data.month.reduce((n, r) => n + (r.cost || 0), 0);
    const priced = data.month.reduce((n, r) => n + r.priced, 0), entries = data.month.reduce((n, r) => n + r.entries, 0);
    const table = (by, title, label) => el("div", {}, el("h3", { textContent: title }), el("table", {},
      el("thead", {}, el("tr", {}, ...[t("when_" + by), t("images"), t("cost")].map((h) => el("th", { textContent: h })))),
      el("tbody", {}, ...data[by].slice(0, 14).map((r) => el("tr", {}, el("td", { textContent: label(r.key) }),
        el("td", { textContent: r.images || 0 }), el("td", { textContent: r.priced ? money(r.cost) : "—" }))))));
    $("totals").replaceChildren(
      el("p", { className: "all", textContent: priced ? t("totals_line", { images, cost: money(cost), unpriced: entries - priced })
                                                      : t("totals_unpriced", { images }) }),
      table("day", t("by_day"), (k) => k), table("month", t("by_month"), (k) => k),
      table("model", t("by_model"), (k) => k || t("unknown")));
  }

  // -- the detail view: the image card, hosted here ------------------------------------------
  let host = null;  // { frame, detail, card, returnTo }
  async function openDetail(id, returnTo) {
    let detail;
    try { detail = await api(`/api/entry/${id}`); } catch (e) { $("summary").textContent = e.message; return; }
    closeDetail(false);
    const old = $("card");
    const frame = old.cloneNode(false);  // a fresh card each time
    old.replaceWith(frame);
    frame.src = "/card";
    host = { frame, detail, card: detail.card, returnTo, waiting: new Map() };
    facts(detail);
    $("detail").hidden = false;
    $("detail").dataset.entry = id;
    history.replaceState(null, "", `?entry=${id}`);
    $("close").focus();
  }
  function closeDetail(restore = true) {
    if ($("detail").hidden) return;
    $("detail").hidden = true;
    $("card").src = "about:blank";
    const back = host && host.returnTo;
    host = null;
    history.replaceState(null, "", location.pathname);
    if (restore && back && back.isConnected) back.focus();
  }
  $("close").addEventListener("click", () => closeDetail());
  $("detail").addEventListener("click", (e) => { if (e.target === $("detail")) closeDetail(); });

  function facts(detail) {
    const e = detail.entry;
    const rows = [[t("prompt"), e.prompt], [t("revised_prompt"), e.revised_prompt !== e.prompt ? e.revised_prompt : null],
      [t("when"), when(e.started)],
      [t("duration"), e.duration != null ? t("seconds", { n: e.duration.toFixed(1) }) : null], [t("size"), e.size],
      [t("format"), e.format && e.format.toUpperCase()], [t("model"), e.model], [t("api_mode"), e.api_mode],
      [t("cost"), e.cost != null ? money(e.cost) : t("not_reported")], [t("project"), e.project],
      [t("made_by"), t("face_" + e.face)], [t("status"), t("status_" + ({ ok: "ok", running: "running" }[e.status] || "failed"))],
      [t("error"), e.error_code ? `${e.error_code}: ${e.error_message || ""}` : null]];
    const list = rows.filter(([, v]) => v).flatMap(([k, v]) => [el("dt", { textContent: k }), el("dd", { textContent: v })]);
    for (const f of detail.files.filter((f) => f.kind === "image" || e.status !== "ok")) {  // a failure's kept partials
      list.push(el("dt", { textContent: t(f.kind === "image" ? "file" : "partial") }),
                el("dd", { className: f.missing ? "gone" : "", textContent: f.missing ? `${f.name} — ${t("file_missing")}` : f.name }));
    }
    $("facts").replaceChildren(...list);
    $("copy-tag").disabled = !detail.markdown;
    $("detail-status").textContent = "";
  }

  async function copy(text, done) {
    try { await navigator.clipboard.writeText(text); }
    catch (e) {  // an older browser, or one that withholds the clipboard from this page
      const area = el("textarea", { value: text });
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    $("detail-status").textContent = done;
  }
  $("copy-tag").addEventListener("click", () => host && host.detail.markdown && copy(host.detail.markdown, t("copied_tag")));
  $("copy-prompt").addEventListener("click", () => host && copy(host.detail.entry.prompt, t("copied_prompt")));

  // JSON-RPC with the card (postMessage), as an MCP Apps host speaks it.
  window.addEventListener("message", async (event) => {
    if (!host || event.source !== host.frame.contentWindow) return;
    const msg = event.data;
    if (!msg || msg.jsonrpc !== "2.0" || !msg.method) return;
    const current = host;
    const reply = (body) => current.frame.contentWindow && current.frame.contentWindow.postMessage({ jsonrpc: "2.0", id: msg.id, ...body }, "*");
    if (msg.id === undefined) return notice(msg.method, msg.params || {});
    try { reply({ result: await answer(msg.method, msg.params || {}) }); }
    catch (e) { reply({ error: { code: -32000, message: e.message } }); }
  });
  const toCard = (method, params) => host && host.frame.contentWindow.postMessage({ jsonrpc: "2.0", method, params }, "*");
  const dark = () => window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches;
  if (window.matchMedia) matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () =>
    toCard("ui/notifications/host-context-changed", { theme: dark() ? "dark" : "light" }));

  async function notice(method, params) {
    if (method === "ui/notifications/initialized") {
      const card = await withPictures(host.card);
      toCard("ui/notifications/tool-input", { arguments: card.arguments || {} });
      toCard("ui/notifications/tool-result", { content: [{ type: "text", text: card.prompt }], _meta: { [KEY]: card } });
    } else if (method === "ui/notifications/size-changed" && params.height) {
      host.frame.style.height = `${Math.min(Math.max(params.height, 160), 4000)}px`;
    }
  }

  async function answer(method, params) {
    if (method === "ui/initialize") {
      return { protocolVersion: "2026-01-26", hostInfo: { name: "image-relay-library", version: "1" },
               hostCapabilities: { openLinks: {}, downloadFile: {}, serverTools: {}, serverResources: {} },
               hostContext: { theme: dark() ? "dark" : "light", locale: cfg.lang, platform: "web", displayMode: "inline" } };
    }
    if (method === "tools/call") return callTool(params.name, params.arguments || {});
    if (method === "resources/read") {
      const id = fileOf(params.uri);
      const response = await fetch(`/file/${id}`, { credentials: "same-origin" });
      if (!response.ok) throw new Error(t("file_missing"));
      const blob = await response.blob();
      return { contents: [{ uri: params.uri, mimeType: blob.type, blob: (await dataUrl(blob)).split(",")[1] }] };
    }
    if (method === "ui/open-link") {
      const body = await post("/api/open-folder", { entry: host.card.job });
      $("detail-status").textContent = body.opened ? t("folder_opened", { folder: body.folder }) : t("folder_not_opened", { folder: body.folder });
      return {};
    }
    if (method === "ui/download-file") {
      const item = (params.contents || [])[0] || {};
      const uri = (item.resource && item.resource.uri) || item.uri || "";
      const name = decodeURIComponent(uri.split("/").pop() || "image");
      const id = fileOf(item.uri || "") || (host.card.images.find((i) => i.name === name) || {}).file;
      const link = el("a", { href: `/file/${id}?download=1`, download: name });
      document.body.append(link);
      link.click();
      link.remove();
      $("detail-status").textContent = t("downloading", { name });
      return {};
    }
    throw new Error(`${method} is not offered here.`);
  }

  async function callTool(name, args) {
    let body;
    try {
      if (name === "card_generate") {
        body = await post("/api/action", { entry: args.job_id || host.card.job, action: args.action, n: args.n,
                                           index: args.index || 0, prompt: args.prompt, mask_png: args.mask_png });
      } else if (name === "card_status") {
        body = await api(`/api/job/${encodeURIComponent(args.job_id)}?seen=${args.seen || 0}`);
      } else throw new Error(`${name} is not offered here.`);
    } catch (e) {
      return { content: [{ type: "text", text: e.message }], isError: true };
    }
    const card = await withPictures(body.card);
    host.card = card;
    if (card.status !== "pending" && card.entry && card.entry !== host.detail.entry.id) {  // a new entry
      loadFacets();
      reload();
      history.replaceState(null, "", `?entry=${card.entry}`);
      const current = host;
      api(`/api/entry/${card.entry}`).then((detail) => {
        if (host !== current) return;
        current.detail = detail;
        facts(detail);
      }).catch(() => {});
    }
    return { content: [{ type: "text", text: `Job ${card.job}: ${card.status}.` }], _meta: { [KEY]: card } };
  }

  // The card shows data: URLs only (its own policy in every host): the large thumbnails, fetched here.
  async function withPictures(card) {
    const fetchOne = async (item, size = "large") => {
      if (!item.file || item.missing) return;
      try {
        const response = await fetch(`/thumb/${item.file}?size=${size}`, { credentials: "same-origin" });
        if (response.ok) item.src = await dataUrl(await response.blob());
      } catch (e) { /* the card says it is loading, then reads the full file */ }
    };
    await Promise.all([...[...card.images, ...card.partials].map((i) => fetchOne(i)),
                       ...(card.sources || []).map((i) => fetchOne(i, "grid"))]);
    return card;
  }
  const fileOf = (uri) => (String(uri).match(/^image-relay:\/\/library\/files\/(\d+)$/) || [])[1];
  const dataUrl = (blob) => new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });

  // -- start -------------------------------------------------------------------------------
  loadFacets().catch(() => {});
  applyFilters();
  let width = 0;
  new ResizeObserver(() => {
    if ($("grid").clientWidth !== width) { width = $("grid").clientWidth; requestAnimationFrame(layout); }
  }).observe($("grid"));
  const wanted = new URLSearchParams(location.search).get("entry");
  if (wanted && /^\d+$/.test(wanted)) openDetail(Number(wanted), $("q"));
  window.libraryReady = true;
})();
