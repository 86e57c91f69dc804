// Ed25519 and SHA-256 through WebCrypto (Chromium has {name: "Ed25519"}). The user's key is
// imported as a non-extractable CryptoKey and stays in this page's memory.

export const DOMAINS = {
  http: "stoledger:http:v1\x00",
  commit: "stoledger:commit:v1\x00",
};
const PKCS8_PREFIX = "302e020100300506032b657004220420"; // Ed25519 private key, 32-byte seed

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function fromHex(text) {
  if (typeof text !== "string" || text.length % 2 !== 0 || !/^[0-9a-f]*$/.test(text)) {
    throw new Error("not lowercase hex");
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
  return out;
}

export function concat(...parts) {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

export function equalBytes(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export const utf8 = (text) => new TextEncoder().encode(text);

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

export function hasEd25519() {
  return Boolean(globalThis.crypto && crypto.subtle);
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

function fromBase64url(text) {
  const b = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

// A key file `{"account", "secret"}` -> {account, privateKey}; refuses a file whose secret does
// not give its account (the public key is derived from the seed to check).
export async function loadKeyFile(text) {
  let value;
  try { value = JSON.parse(text); } catch { throw new Error("the key file is not JSON"); }
  if (!value || typeof value.account !== "string" || typeof value.secret !== "string") {
    throw new Error('a key file is {"account", "secret"}');
  }
  const seed = fromHex(value.secret);
  if (seed.length !== 32) throw new Error("secret is a 32-byte seed in hex");
  const pkcs8 = concat(fromHex(PKCS8_PREFIX), seed);
  const probe = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", probe);
  const account = toHex(fromBase64url(jwk.x));
  if (account !== value.account) throw new Error("the secret does not match the account");
  const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false,
    ["sign"]);
  seed.fill(0);
  pkcs8.fill(0);
  return { account, privateKey };
}

export async function sign(privateKey, domain, message) {
  const sig = await crypto.subtle.sign({ name: "Ed25519" }, privateKey,
    concat(utf8(domain), message));
  return new Uint8Array(sig);
}

export async function verify(publicKey, domain, message, sig) {
  try {
    const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false,
      ["verify"]);
    return await crypto.subtle.verify({ name: "Ed25519" }, key, sig, concat(utf8(domain), message));
  } catch {
    return false;
  }
}

export { base64url };
