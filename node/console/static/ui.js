// Small rendering helpers shared by the pages: escaping, tables, account labels, error boxes.

import { ApiError, query, session } from "./api.js";
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

// Names from identity records (the `name` a broker registered), for the accounts the loaded
// key may read (identity.get: the account, its broker, the registrar, the regulator); asked
// once per account and key, at most MAX_NAME_LOOKUPS, like the CLI (node/cli/show.py).
const MAX_NAME_LOOKUPS = 200;
const LOOKUPS_AT_ONCE = 8;
const names = new Map(); // account -> name, or null when its record gives none or is closed
let namesOf = null; // the key the names were asked with

function orgOf(account) {
  return (session.genesis?.orgs || []).find((o) => o.account === account);
}

export async function learnNames(accounts) {
  if (!session.key) return;
  if (namesOf !== session.key.account) { names.clear(); namesOf = session.key.account; }
  const wanted = [...new Set(accounts)].filter((a) => /^[0-9a-f]{64}$/.test(a || "") && !names.has(a) && !orgOf(a))
    .slice(0, Math.max(0, MAX_NAME_LOOKUPS - names.size));
  for (let i = 0; i < wanted.length; i += LOOKUPS_AT_ONCE) {
    await Promise.all(wanted.slice(i, i + LOOKUPS_AT_ONCE).map(async (account) => {
      try {
        const { result } = await query("identity", "get", { account });
        names.set(account, result?.attrs?.name || result?.org || null);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        names.set(account, null); // not this key's to read, or not registered
      }
    }));
  }
}

// An account as people know it: the organisation name from genesis, the name its identity
// record gives, or its first 12 hex characters; ★ marks the loaded key's own.
// A name is free text its broker chose: one that is an organisation's (on another account) or
// another known account's is told apart by its first hex characters, `lee (eaf355…)`, as the
// CLI writes it (node/cli/show.py, TELL_APART_HEX).
export function label(account) {
  if (!account) return "–";
  const org = orgOf(account);
  if (org) return org.name;
  const name = namesOf === session.key?.account && names.get(account);
  if (!name) return short(account, 12);
  return isShared(account, name) ? `${name} (${short(account, 6)})` : name;
}

function isShared(account, name) {
  if ((session.genesis?.orgs || []).some((o) => o.name === name)) return true; // not its admin
  for (const [other, otherName] of names) if (other !== account && otherName === name) return true;
  return false;
}

export function who(account) {
  if (!account) return "–";
  const mine = session.key && session.key.account === account;
  return `<span class="acct" title="${esc(account)}">${esc(label(account))}${mine ? " ★" : ""}</span>`;
}

// An alert's explanation names accounts by their first 12 hex characters: write their labels.
export function namedIn(text, accounts) {
  let named = text || "";
  for (const account of accounts || []) {
    const name = label(account);
    if (name !== short(account, 12)) named = named.split(account.slice(0, 12)).join(name);
  }
  return named;
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
