// Small rendering helpers shared by the pages: escaping, tables, account labels, error boxes.

import { ApiError, session } from "./api.js";
import { t } from "./i18n.js";

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}

export function short(hex, n = 10) {
  if (!hex) return "–";
  return hex.length > n ? `${hex.slice(0, n)}…` : hex;
}

// An account as people know it: the organisation name from genesis, "you", or a short id.
export function who(account) {
  if (!account) return "–";
  const org = (session.genesis?.orgs || []).find((o) => o.account === account);
  const mine = session.key && session.key.account === account;
  const name = org ? org.name : short(account, 12);
  return `<span class="acct" title="${esc(account)}">${esc(name)}${mine ? " ★" : ""}</span>`;
}

export function table(columns, rows, { cls = "", testid = "" } = {}) {
  const head = columns.map((c) => `<th class="${c.num ? "num" : ""}">${esc(c.label)}</th>`).join("");
  const body = rows.map((row) => `<tr${row.__attrs ? ` ${row.__attrs}` : ""}>${columns.map((c) => {
    const value = c.html ? c.html(row) : esc(c.text ? c.text(row) : row[c.key]);
    return `<td class="${c.num ? "num" : ""}">${value}</td>`;
  }).join("")}</tr>`).join("");
  const empty = rows.length ? "" : `<tr><td colspan="${columns.length}" class="muted">${esc(t("none"))}</td></tr>`;
  return `<table class="${cls}"${testid ? ` data-testid="${testid}"` : ""}><thead><tr>${head}</tr></thead><tbody>${body}${empty}</tbody></table>`;
}

// An error as a box: 403 is a clear "not allowed" (the API's own answer), 401 without a key
// asks for one, 404 says the node does not serve the route.
export function errorBox(error) {
  if (error instanceof ApiError) {
    if (error.status === 403) {
      return `<div class="notice denied" data-testid="not-allowed"><strong>${esc(t("not_allowed"))}</strong> — ${esc(t("not_allowed_role"))} (${esc(session.role || "none")}).<br><span class="muted">403 ${esc(error.code)}: ${esc(error.message)}</span></div>`;
    }
    if (error.code === "no_key" || error.status === 401) {
      return `<div class="notice" data-testid="needs-key">${esc(t("needs_key"))}<br><span class="muted">${esc(error.message)}</span></div>`;
    }
    if (error.status === 404 && error.code === "not_found") {
      return `<div class="notice" data-testid="route-missing">${esc(t("route_missing"))}: ${esc(error.message)}</div>`;
    }
    return `<div class="notice error">${esc(error.status)} ${esc(error.code)}: ${esc(error.message)}</div>`;
  }
  return `<div class="notice error">${esc(error && error.message ? error.message : error)}</div>`;
}

export function json(value) {
  return `<code class="json">${esc(JSON.stringify(value))}</code>`;
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// At most one call per `ms`; a call inside the quiet time is done at its end (so the last
// event is never lost). For refreshing on block events without following every block.
export function throttle(fn, ms) {
  let last = 0;
  let timer = null;
  return () => {
    const wait = last + ms - Date.now();
    if (wait <= 0) { last = Date.now(); fn(); return; }
    if (!timer) {
      timer = setTimeout(() => { timer = null; last = Date.now(); fn(); }, wait);
    }
  };
}
