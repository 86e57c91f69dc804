// The console's shell: the key, the language, the navigation, the block stream, and which page
// is shown. Pages are modules in pages/ with `render(root, ctx)` returning a cleanup function.

import { blockStream, open, query, requestsPerSecond, session } from "./api.js";
import { loadKeyFile } from "./crypto.js";
import { language, setLanguage, t } from "./i18n.js";
import { esc, short } from "./ui.js";
import network from "./pages/network.js";
import blocks from "./pages/blocks.js";
import tokens from "./pages/tokens.js";
import market from "./pages/market.js";
import offerings from "./pages/offerings.js";
import alerts from "./pages/alerts.js";
import access from "./pages/access.js";
import proof from "./pages/proof.js";

const PAGES = { network, blocks, tokens, market, offerings, alerts, access, proof };
const listeners = new Set();
let cleanup = null;
let shows = 0; // pages shown so far: a render that returns after a newer one started is stale
let stopStream = null;
let streamState = "off";
let lastBlock = null;

const $ = (id) => document.getElementById(id);

function route() {
  const parts = (location.hash || "#/network").slice(2).split("/").map(decodeURIComponent);
  const page = PAGES[parts[0]] ? parts[0] : "network";
  return { page, params: parts.slice(1) };
}

function renderNav() {
  const current = route().page;
  $("nav").innerHTML = Object.keys(PAGES).map((id) => `<a href="#/${id}" data-page="${id}" class="${id === current ? "active" : ""}">${esc(t(id))}</a>`).join("");
  document.title = t("title");
  $("title").textContent = t("title");
  $("lang").textContent = language() === "ko" ? "English" : "한국어";
  $("keylabel").textContent = t("load_key");
  $("keynote").textContent = t("key_note");
  $("forget").textContent = t("forget_key");
}

function renderKey() {
  const box = $("who");
  if (!session.key) {
    box.innerHTML = `<span class="muted" data-testid="key-state">${esc(t("no_key"))}</span>`;
    $("forget").hidden = true;
    return;
  }
  box.innerHTML = `<span data-testid="key-state" data-role="${esc(session.role || "")}"><strong>${esc(session.key.name || "")}</strong> · ${esc(session.role || "?")} · <span title="${esc(session.key.account)}">${esc(short(session.key.account, 12))}</span></span>`;
  $("forget").hidden = false;
}

function renderFooter() {
  const stream = session.key ? `${streamState === "live" ? "●" : "○"} ${streamState === "live" ? t("stream_live") : t("stream_down")}` : "";
  $("footer").innerHTML = `${esc(session.chainId || "")} · ${lastBlock ? `${esc(t("height"))} ${lastBlock.height} · ` : ""}${esc(stream)} · <span data-testid="rate">${requestsPerSecond().toFixed(1)}</span> ${esc(t("requests"))}`;
}

async function show() {
  if (cleanup) { try { cleanup(); } catch { /* the old page is gone either way */ } }
  cleanup = null;
  renderNav();
  renderKey();
  const { page, params } = route();
  // each page renders into an element of its own: a page still awaiting its requests when the
  // next one is shown writes into its detached element, never over the page now shown
  const root = document.createElement("div");
  $("page").replaceChildren(root);
  $("page").dataset.page = page;
  root.innerHTML = `<p class="muted">${esc(t("loading"))}</p>`;
  const ctx = {
    params,
    // fn(block) on each block event; onAlert: fn(alert) on each alert event
    onBlock(fn) {
      const listener = (kind, data) => { if (kind === "block") fn(data); };
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onAlert(fn) {
      const listener = (kind, data) => { if (kind === "alert") fn(data); };
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    rerender: show,
  };
  const shown = ++shows;
  try {
    const done = (await PAGES[page].render(root, ctx)) || null;
    if (shown === shows) cleanup = done;
    else if (done) done(); // a newer page is shown: this one stops at once
  } catch (error) {
    root.innerHTML = `<div class="notice error">${esc(error.message)}</div>`;
  }
}

function startStream() {
  if (stopStream) stopStream();
  stopStream = blockStream((kind, data) => {
    if (kind === "block") lastBlock = data;
    for (const fn of [...listeners]) fn(kind, data);
  }, (state) => { streamState = state; renderFooter(); });
}

// A page left behind (another document, the back-forward cache) keeps its fetches open
// unless told: each held one of the browser's six connections to the node, and after six
// documents every request of the next one waited for good. So the stream stops when the page
// is hidden and starts again if the page is shown from the cache.
window.addEventListener("pagehide", () => { if (stopStream) { stopStream(); stopStream = null; } });
window.addEventListener("pageshow", (event) => { if (event.persisted && session.key) startStream(); });

async function roleOf(account) {
  const org = session.genesis.orgs.find((o) => o.account === account);
  if (org) return { role: org.role, name: org.name };
  const operator = session.genesis.operators.find((o) => o.public_key === account);
  if (operator) return { role: "operator", name: operator.name };
  try {
    const record = (await query("identity", "get", { account })).result;
    return { role: record.role, name: "" };
  } catch {
    return { role: null, name: "" };
  }
}

async function onKeyFile(event) {
  const file = event.target.files[0];
  event.target.value = "";
  if (!file) return;
  const status = $("keyerror");
  status.textContent = "";
  try {
    session.key = await loadKeyFile(await file.text());
    const { role, name } = await roleOf(session.key.account);
    session.role = role;
    session.key.name = name || file.name.replace(/\.json$/, "");
    startStream();
  } catch (error) {
    session.key = null;
    status.textContent = error.message;
  }
  show();
}

async function boot() {
  setLanguage(language());
  session.genesis = await open("/console/genesis.json");
  session.chainId = session.genesis.chain_id;
  $("keyfile").addEventListener("change", onKeyFile);
  $("forget").addEventListener("click", () => {
    session.key = null;
    session.role = null;
    if (stopStream) stopStream();
    stopStream = null;
    show();
  });
  $("lang").addEventListener("click", () => {
    setLanguage(language() === "ko" ? "en" : "ko");
    show();
  });
  window.addEventListener("hashchange", show);
  setInterval(renderFooter, 2000);
  await show();
  renderFooter();
  document.body.dataset.ready = "1";
}

boot().catch((error) => {
  document.getElementById("page").innerHTML = `<div class="notice error">${esc(error.message)}</div>`;
});
