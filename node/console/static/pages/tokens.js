// Tokens: the key's own holdings (any role, through the contracts' own read rules), and for
// the regulator and the registrar the cap table and supply reconciliation of a token at any
// height (a slider), and a holder's history (regulator). The symbols come from
// /console/symbols.json, once per visit.

import { get, open, query, session } from "../api.js";
import { bps, num, t, time, won } from "../i18n.js";
import { debounce, errorBox, esc, json, learnNames, table, who } from "../ui.js";

let known = JSON.parse(localStorage.getItem("stoledger.symbols") || "[]");

async function findSymbols() {
  const { symbols } = await get("/console/symbols.json");
  known = symbols.map((row) => row.symbol);
  localStorage.setItem("stoledger.symbols", JSON.stringify(known));
  return known;
}

async function mine() {
  // auditors hold nothing; everyone else sees their own holdings under the contracts' rules
  if (!session.key || ["regulator", "registrar"].includes(session.role)) return "";
  const account = session.key.account;
  try {
    const [tokens, cash] = await Promise.all([
      query("token", "holdings", { account }),
      query("cash", "balance", { account }).catch(() => null),
    ]);
    const c = cash?.result;
    return `<section class="card" data-testid="my-holdings"><h2>${esc(t("my_holdings"))} · ${esc(t("height"))} ${num(tokens.height)}</h2>
      ${table([
        { label: t("symbol"), text: (r) => r.symbol },
        { label: t("balance"), num: true, html: (r) => `<span data-symbol="${esc(r.symbol)}" data-testid="my-balance">${num(r.balance)}</span>` },
        { label: t("frozen"), num: true, text: (r) => num(r.frozen) },
        { label: t("locked"), num: true, text: (r) => num(r.locked) },
      ], tokens.result)}
      ${c ? `<p>${esc(t("cash"))}: <strong>${won(c.balance)}</strong>${"escrowed" in c ? ` · ${esc(t("escrowed"))} ${won(c.escrowed)} · ${esc(t("available"))} ${won(c.available)}` : ""}</p>` : ""}</section>`;
  } catch (error) {
    return `<section class="card"><h2>${esc(t("my_holdings"))}</h2>${errorBox(error)}</section>`;
  }
}

async function capTable(cap) {
  await learnNames(cap.holders.map((r) => r.account));
  return `<p>${esc(cap.name)} · ${esc(t("holders"))} ${num(cap.holder_count)} · ${esc(t("outstanding"))} ${num(cap.outstanding)} · as of ${num(cap.as_of.height)}</p>
    ${table([
      { label: t("account"), html: (r) => `<a href="#/tokens/${encodeURIComponent(cap.symbol)}/${r.account}">${who(r.account)}</a>` },
      { label: t("balance"), num: true, html: (r) => `<span data-testid="cap-balance" data-account="${esc(r.account)}">${num(r.balance)}</span>` },
      { label: t("frozen"), num: true, text: (r) => num(r.frozen) },
      { label: t("locked"), num: true, text: (r) => num(r.locked) },
      { label: t("share"), num: true, text: (r) => bps(r.share_bps) },
    ], cap.holders, { testid: "cap-table" })}
    ${cap.next_cursor ? `<p class="muted small">${esc(t("more"))}: limit 1,000</p>` : ""}`;
}

function supplyBox(s) {
  const mark = (ok) => (ok ? `<span class="good">✔</span>` : `<span class="bad">✘</span>`);
  return `<dl class="kv">
    <dt>${esc(t("max_supply"))}</dt><dd>${num(s.max_supply)}</dd>
    <dt>${esc(t("cap"))}</dt><dd>${num(s.cap)}</dd>
    <dt>${esc(t("issued"))}</dt><dd>${num(s.issued)}</dd>
    <dt>${esc(t("redeemed"))}</dt><dd>${num(s.redeemed)}</dd>
    <dt>${esc(t("outstanding"))}</dt><dd>${num(s.outstanding)}</dd>
    <dt>${esc(t("sum_balances"))}</dt><dd>${num(s.sum_of_balances)}</dd>
    <dt>${esc(t("holders"))}</dt><dd>${num(s.holder_count)} / ${num(s.holders_counted)}</dd>
    <dt>${esc(t("reconciles"))}</dt><dd data-testid="reconciles">${mark(s.reconciles)}</dd>
    </dl><div class="small">${Object.entries(s.checks).map(([k, v]) => `${mark(v)} ${esc(k)}`).join("<br>")}</div>`;
}

async function holderHistory(symbol, account) {
  try {
    const h = await get(`/v1/audit/history?account=${account}&limit=200`);
    await learnNames([account, ...h.transactions.map((r) => r.sender)]);
    return `<section class="card"><h2>${esc(t("history"))}: ${who(account)}</h2>${table([
      { label: t("height"), num: true, html: (r) => `<a href="#/blocks/${r.height}">${num(r.height)}</a>` },
      { label: t("time"), text: (r) => time(r.time) },
      { label: t("sender"), html: (r) => who(r.sender) },
      { label: t("call"), text: (r) => `${r.contract}.${r.method}` },
      { label: t("args"), html: (r) => json(r.args) },
      { label: t("result"), html: (r) => (r.ok ? `<span class="good">${esc(t("ok"))}</span>` : `<span class="bad">${esc(r.error_code)}</span>`) },
    ], h.transactions.filter((r) => !symbol || JSON.stringify(r.args).includes(symbol) || r.contract !== "token"), { testid: "holder-history" })}</section>`;
  } catch (error) {
    return `<section class="card"><h2>${esc(t("history"))}</h2>${errorBox(error)}</section>`;
  }
}

export default {
  async render(root, ctx) {
    const [symbolParam, accountParam] = ctx.params;
    const status = await open("/v1/status");
    const height = status.height;
    let symbol = symbolParam || localStorage.getItem("stoledger.symbol") || known[0] || "";
    root.innerHTML = `<div id="mine">${await mine()}</div>
      <section class="card"><h2>${esc(t("cap_table"))} · ${esc(t("supply"))}</h2>
        <div class="row">
          <label>${esc(t("symbol"))} <input type="text" id="symbol" list="symbols" value="${esc(symbol)}" size="10"></label>
          <datalist id="symbols">${known.map((s) => `<option value="${esc(s)}">`).join("")}</datalist>
          <button id="find">${esc(t("find_tokens"))}</button>
          <label>${esc(t("at_height"))} <input type="range" id="at" min="1" max="${height}" value="${height}">
          <input type="number" id="atnum" min="1" max="${height}" value="${height}" class="height-input"></label>
          <span id="symlist" class="small muted">${known.map(esc).join(" · ")}</span>
        </div>
        <div class="grid"><div id="cap"></div><div id="supply"></div></div>
      </section><div id="history"></div>`;
    const $ = (sel) => root.querySelector(sel);
    const load = async () => {
      symbol = $("#symbol").value.trim();
      const at = $("#atnum").value;
      if (!symbol) { $("#cap").innerHTML = `<p class="muted">${esc(t("symbol"))}?</p>`; return; }
      $("#cap").dataset.loading = "1";
      localStorage.setItem("stoledger.symbol", symbol);
      const [cap, supply] = await Promise.all([
        get(`/v1/audit/captable?symbol=${encodeURIComponent(symbol)}&at=${at}&limit=1000`).then(capTable, errorBox),
        get(`/v1/audit/supply?symbol=${encodeURIComponent(symbol)}&at=${at}`).then(supplyBox, errorBox),
      ]);
      $("#cap").innerHTML = cap;
      $("#cap").dataset.at = at;
      $("#supply").innerHTML = supply;
      delete $("#cap").dataset.loading;
    };
    const later = debounce(load, 300);
    $("#at").oninput = () => { $("#atnum").value = $("#at").value; later(); };
    $("#atnum").onchange = () => { $("#at").value = $("#atnum").value; later(); };
    $("#symbol").onchange = load;
    const find = async () => {
      try {
        const list = await findSymbols();
        $("#symbols").innerHTML = list.map((s) => `<option value="${esc(s)}">`).join("");
        $("#symlist").innerHTML = list.map((s) => `<a href="#/tokens/${encodeURIComponent(s)}">${esc(s)}</a>`).join(" · ");
        if (!$("#symbol").value && list.length) { $("#symbol").value = list[0]; load(); }
      } catch (error) {
        $("#symlist").innerHTML = errorBox(error);
      }
    };
    $("#find").onclick = find;
    if (session.key) await Promise.all([load(), find()]);
    else $("#cap").innerHTML = errorBox({ message: t("needs_key") });
    if (accountParam) $("#history").innerHTML = await holderHistory(symbol, accountParam);
    return null;
  },
};
