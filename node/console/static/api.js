// Talking to the node that served this page: signed requests (PROTOCOL.md, "Signed requests"),
// the public routes of every node, and the block event stream. Every request is counted, so the
// footer can show how many requests per second the console makes.

import { DOMAINS, sha256, sign, toHex, utf8 } from "./crypto.js";

export const session = {
  key: null, // {account, privateKey, name}
  role: null,
  chainId: null,
  genesis: null,
};

const sent = []; // times of the last requests, for the footer's rate

function count() {
  const now = Date.now();
  sent.push(now);
  while (sent.length && sent[0] < now - 10_000) sent.shift();
}

export function requestsPerSecond() {
  const now = Date.now();
  return sent.filter((t) => t >= now - 10_000).length / 10;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// What the node will see as the request's raw path: the browser's own encoding of the URL.
function asSent(pathAndQuery) {
  const url = new URL(pathAndQuery, location.origin);
  return url.pathname + url.search;
}

async function authorization(method, pathAndQuery, body) {
  const ts = String(Date.now());
  const digest = toHex(await sha256(body));
  const text = `${session.chainId}\n${method}\n${pathAndQuery}\n${ts}\n${digest}`;
  const sig = await sign(session.key.privateKey, DOMAINS.http, utf8(text));
  return `Stoledger ${session.key.account}:${ts}:${toHex(sig)}`;
}

async function parse(response) {
  const type = response.headers.get("Content-Type") || "";
  const value = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const error = (value && value.error) || {};
    throw new ApiError(response.status, error.code || `http_${response.status}`,
      error.message || response.statusText);
  }
  return value;
}

// A signed request to this node. Without a loaded key: ApiError 401 without asking the node.
export async function signed(method, path, bodyValue) {
  if (!session.key) throw new ApiError(401, "no_key", "load a key file first");
  const pathAndQuery = asSent(path);
  const body = bodyValue === undefined ? new Uint8Array() : utf8(JSON.stringify(bodyValue));
  const headers = { Authorization: await authorization(method, pathAndQuery, body) };
  if (bodyValue !== undefined) headers["Content-Type"] = "application/json";
  count();
  const response = await fetch(pathAndQuery, {
    method, headers, body: bodyValue === undefined ? undefined : body, cache: "no-store",
  });
  return parse(response);
}

export const get = (pathAndQuery) => signed("GET", pathAndQuery);

export function query(contract, method, args = {}) {
  return signed("POST", "/v1/query", { contract, method, args });
}

// An unsigned GET, to this node (a path) or another (a full URL).
export async function open(url, { text = false, allowError = false } = {}) {
  count();
  const response = await fetch(url, { cache: "no-store" });
  if (text) {
    if (!response.ok && !allowError) throw new ApiError(response.status, "http", response.statusText);
    return response.text();
  }
  if (allowError) return { status: response.status, value: await response.json() };
  return parse(response);
}

// The block event stream (`/v1/events?only=block`, signed): fetch with a streamed body, since
// EventSource cannot send an Authorization header. Calls onEvent("block", {height, hash, txs})
// for each block and onEvent("alert", alert) for each surveillance alert (sent to the
// regulator and the registrar), and reconnects after a drop, at most every 5 s. Returns a
// function that stops it.
export function blockStream(onEvent, onState) {
  let stopped = false;
  let controller = null;
  const run = async () => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const path = "/v1/events?only=block";
        const headers = { Authorization: await authorization("GET", path, new Uint8Array()) };
        count();
        const response = await fetch(path, { headers, signal: controller.signal });
        if (!response.ok) throw new ApiError(response.status, "events", response.statusText);
        onState("live");
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const frame = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const event = /^event: (.*)$/m.exec(frame);
            const data = /^data: (.*)$/m.exec(frame);
            if (event && data && (event[1] === "block" || event[1] === "alert")) {
              onEvent(event[1], JSON.parse(data[1]));
            }
          }
        }
      } catch (error) {
        if (stopped) return;
        onState("down", error);
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 5000));
    }
  };
  run();
  return () => { stopped = true; if (controller) controller.abort(); };
}
