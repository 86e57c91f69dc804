// Alerts: the surveillance alerts of /v1/audit/alerts (PROTOCOL.md, "Surveillance"), filtered
// by rule, symbol, account and heights; an alert opens its evidence: accounts, the links of the
// owner graph that made them one owner (a shared device, a transfer outside the market, a key
// recovery), the price effect, the numbers that crossed the threshold, and each evidence
// transaction's receipt with its orders and trades. Each version of an alert is a row of its
// own. The list reloads when an `alert` event arrives on the stream (at most every 5 s).
// Holds (PROTOCOL.md, "fds"): the list shows how many holds each alert caused and their state
// (/v1/audit/holds, one read for the page), and the evidence the holds placed on the alert and
// every hold on the accounts it names, active or released, with who placed and released them.

import { get } from "../api.js";
import { duration, num, t, time } from "../i18n.js";
import { errorBox, esc, json, learnNames, namedIn, short, table, throttle, who } from "../ui.js";

const MAX_EVIDENCE = 50;
const MAX_HOLD_ACCOUNTS = 10; // accounts of one alert whose holds the evidence reads
const FILTERS = ["rule", "symbol", "account", "from", "to"];
let filters = {};
let lastAlerts = [];

function queryString() {
  const parts = FILTERS.filter((k) => filters[k]).map((k) => `${k}=${encodeURIComponent(filters[k])}`);
  return parts.length ? `&${parts.join("&")}` : "";
}

// A window as its two times in KST and how long it lasted (the CLI writes it the same way).
function windowText(window) {
  if (!window) return "–";
  return `${time(window.from_time)} – ${time(window.to_time)} (${duration(window.to_time - window.from_time)})`;
}

// A metric named *_ms is a duration, *_time a time (milliseconds both), as in the CLI.
function metricHtml(name, value) {
  if (typeof value !== "number") return json(value);
  if (name.endsWith("_ms")) return esc(duration(value));
  if (name.endsWith("_time")) return esc(time(value));
  return num(value);
}

// Holds grouped by the alert they were placed on; null when this node does not serve the route.
async function holdsByAlert() {
  try {
    const value = await get("/v1/audit/holds?limit=1000");
    const byAlert = {};
    for (const hold of value.holds || []) {
      if (hold.alert_id) (byAlert[hold.alert_id] ||= []).push(hold);
    }
    return byAlert;
  } catch (error) {
    return null;
  }
}

function holdState(holds) {
  if (!holds || !holds.length) return `<span class="muted">${esc(t("no_holds"))}</span>`;
  const active = holds.filter((h) => h.status === "active").length;
  const parts = [];
  if (active) parts.push(`<span class="pill high">${active} ${esc(t("hold_active"))}</span>`);
  if (holds.length - active) parts.push(`<span class="pill">${holds.length - active} ${esc(t("hold_released"))}</span>`);
  return `<span data-testid="alert-hold-state">${parts.join(" ")}</span>`;
}

function holdTable(holds, testid) {
  return table([
    { label: "id", num: true, text: (h) => h.hold_id },
    { label: t("account"), html: (h) => who(h.account) },
    { label: t("scope"), text: (h) => h.scope },
    { label: t("status"), html: (h) => `<span class="${h.status === "active" ? "bad" : "good"}" data-testid="hold-status">${esc(t(h.status === "active" ? "hold_active" : "hold_released"))}</span>` },
    { label: t("placed_by"), html: (h) => `${who(h.by)} · ${esc(time(h.time))}` },
    { label: t("reason"), text: (h) => h.reason },
    { label: t("released_by"), html: (h) => (h.released_by ? `${who(h.released_by)} · ${esc(time(h.released_time))} · ${esc(h.released_reason)}` : "–") },
  ], holds, { testid });
}

async function holdsSection(alert) {
  try {
    const caused = (await get(`/v1/audit/holds?alert=${alert.alert_id}&limit=1000`)).holds || [];
    const accounts = (alert.accounts || []).slice(0, MAX_HOLD_ACCOUNTS);
    const pages = await Promise.all(accounts.map((a) => get(`/v1/audit/holds?account=${a}&limit=1000`)));
    const all = pages.flatMap((page) => page.holds || []);
    return `<h3>${esc(t("holds"))} (${caused.length})</h3>${holdTable(caused, "alert-holds")}
      <h3>${esc(t("holds_of_accounts"))} (${all.length})</h3>${holdTable(all, "account-holds")}`;
  } catch (error) {
    return `<h3>${esc(t("holds"))}</h3>${errorBox(error)}`;
  }
}

async function evidence(alert) {
  const ids = (alert.evidence || []).slice(0, MAX_EVIDENCE);
  // signed: an unsigned receipt carries no events (node.rpc.receipts)
  const receipts = await Promise.all(ids.map((id) => get(`/v1/tx/${id}`).catch(() => ({ tx_id: id }))));
  const trades = [];
  const orders = [];
  for (const r of receipts) {
    for (const e of r.events || []) {
      if (e.name === "Trade") trades.push({ ...e.data, tx_id: r.tx_id, height: r.height });
      if (e.name === "OrderPlaced" || e.name === "OrderCancelled") orders.push({ ...e.data, event: e.name, tx_id: r.tx_id });
    }
  }
  const metrics = Object.entries(alert.metrics || {}).map(([k, v]) => ({ k, v }));
  await learnNames([...trades.flatMap((x) => [x.buyer, x.seller]), ...orders.map((o) => o.account)]);
  const holds = await holdsSection(alert);
  const effect = alert.price_effect;
  return `<section class="card" data-testid="evidence"><h2>${esc(t("evidence"))}: ${esc(alert.rule)} · ${esc(alert.symbol || "")}</h2>
    <p>${esc(namedIn(alert.explanation, alert.accounts))}</p>
    <dl class="kv"><dt>${esc(t("accounts"))}</dt><dd>${(alert.accounts || []).map(who).join(", ")}</dd>
      <dt>${esc(t("window"))}</dt><dd>${esc(windowText(alert.window))}</dd>
      <dt>${esc(t("version"))}</dt><dd>${esc(alert.version ?? 1)}</dd>
      <dt>${esc(t("price_effect"))}</dt><dd data-testid="price-effect">${effect ? `${num(effect.from)} → ${num(effect.to)} (${effect.bps} bps)` : "–"}</dd>
      <dt>${esc(t("height"))}</dt><dd>${esc((alert.heights || []).join(", "))}</dd></dl>
    <h3>${esc(t("owner_links"))} (${(alert.links || []).length})</h3>${table([
      { label: t("accounts"), html: (l) => `${who(l.a)} – ${who(l.b)}` },
      { label: t("link_kind"), html: (l) => `<span data-testid="owner-link-kind">${esc(t(`link_${l.kind}`))}</span>` },
      { label: t("via"), html: (l) => `<span class="mono" data-testid="owner-link-via" title="${esc(l.via)}">${esc(short(l.via, 16))}</span>` },
      { label: t("time"), text: (l) => time(l.time) },
    ], alert.links || [], { testid: "owner-links" })}
    ${holds}
    <h3>${esc(t("metrics"))}</h3>${table([{ label: t("metric"), text: (m) => m.k }, { label: t("value"), html: (m) => metricHtml(m.k, m.v) }], metrics)}
    <h3>${esc(t("trades"))} (${trades.length})</h3>${table([
      { label: "id", num: true, html: (x) => `<span data-testid="evidence-trade">${esc(x.trade_id)}</span>` },
      { label: t("price"), num: true, text: (x) => num(x.price) },
      { label: t("qty"), num: true, text: (x) => num(x.qty) },
      { label: t("buyer"), html: (x) => who(x.buyer) },
      { label: t("seller"), html: (x) => who(x.seller) },
      { label: t("height"), num: true, html: (x) => `<a href="#/blocks/${x.height}">${num(x.height)}</a>` },
    ], trades, { testid: "evidence-trades" })}
    <h3>${esc(t("orders"))} (${orders.length})</h3>${table([
      { label: t("events"), text: (o) => o.event },
      { label: "id", num: true, text: (o) => o.order_id },
      { label: t("account"), html: (o) => who(o.account) },
      { label: t("side"), text: (o) => o.side || "" },
      { label: t("price"), num: true, text: (o) => num(o.price) },
      { label: t("qty"), num: true, text: (o) => num(o.qty) },
    ], orders)}
    <h3>${esc(t("transactions"))} (${ids.length}${(alert.evidence || []).length > ids.length ? ` / ${alert.evidence.length}` : ""})</h3>
    ${table([
      { label: t("tx_id"), html: (r) => `<span class="mono">${esc(short(r.tx_id, 16))}</span>` },
      { label: t("height"), num: true, html: (r) => (r.height ? `<a href="#/blocks/${r.height}">${num(r.height)}</a>` : "–") },
      { label: t("result"), html: (r) => (r.ok ? `<span class="good">${esc(t("ok"))}</span>` : `<span class="bad">${esc(r.error?.code || r.status || "")}</span>`) },
    ], receipts)}</section>`;
}

export default {
  async render(root, ctx) {
    root.innerHTML = `<section class="card"><h2>${esc(t("alerts"))}</h2><div class="row">
      ${FILTERS.map((k) => `<label>${esc(t(k === "from" ? "from_h" : k === "to" ? "to_h" : k))} <input type="text" data-filter="${k}" value="${esc(filters[k] || "")}" size="${k === "account" ? 20 : 8}"></label>`).join("")}
      <button id="apply">${esc(t("apply"))}</button></div><div id="list"></div></section><div id="detail"></div>`;
    const list = root.querySelector("#list");
    const load = async () => {
      try {
        const [value, holds] = await Promise.all([get(`/v1/audit/alerts?limit=200${queryString()}`), holdsByAlert()]);
        lastAlerts = value.alerts || value.items || [];
        await learnNames(lastAlerts.flatMap((a) => a.accounts || []));
        list.innerHTML = lastAlerts.length ? table([
          { label: t("rule"), text: (a) => a.rule },
          { label: t("version"), num: true, text: (a) => a.version ?? 1 },
          { label: t("severity"), html: (a) => `<span class="pill ${esc(a.severity)}">${esc(a.severity)}</span>` },
          { label: t("symbol"), text: (a) => a.symbol || "" },
          { label: t("accounts"), html: (a) => (a.accounts || []).map(who).join(", ") },
          { label: t("window"), text: (a) => windowText(a.window) },
          { label: t("explanation"), text: (a) => namedIn(a.explanation, a.accounts) },
          ...(holds ? [{ label: t("holds"), html: (a) => holdState(holds[a.alert_id]) }] : []),
        ], lastAlerts.map((a, i) => ({ ...a, __attrs: `class="clickable" data-alert="${i}"` })), { testid: "alert-list" })
          : `<p class="muted" data-testid="no-alerts">${esc(t("no_alerts"))}</p>`;
        list.querySelectorAll("tr.clickable").forEach((tr) => {
          tr.onclick = async () => {
            const detail = root.querySelector("#detail");
            detail.innerHTML = `<p class="muted">${esc(t("loading"))}</p>`;
            detail.innerHTML = await evidence(lastAlerts[Number(tr.dataset.alert)]);
          };
        });
      } catch (error) {
        list.innerHTML = error.status === 404 && error.code === "not_found"
          ? `<div class="notice" data-testid="alerts-missing">${esc(t("alerts_missing"))}</div>`
          : errorBox(error);
      }
    };
    root.querySelector("#apply").onclick = () => {
      root.querySelectorAll("[data-filter]").forEach((input) => { filters[input.dataset.filter] = input.value.trim(); });
      load();
    };
    await load();
    // a new alert on the event stream reloads the list, at most every 5 s; no alert, no request
    return ctx.onAlert(throttle(load, 5000));
  },
};
