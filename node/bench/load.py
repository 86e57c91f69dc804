"""The load: transfers built and signed before timing (in a process pool), cut into msgpack
batches, and sent by a SEPARATE process at a fixed rate or as fast as the cluster takes them."""


from __future__ import annotations

import asyncio
import collections
import http.client
import multiprocessing
import os
import signal
import time
import urllib.parse
from collections.abc import Sequence
from typing import Any

import msgpack

from consensus import codec
from consensus.crypto import TX_DOMAIN, Signer
from node.bench.config import (
    ADMITTED,
    EXPIRY_MS,
    MAX_INFLIGHT_PER_NODE,
    MSGPACK,
    PRESIGN_CHUNK,
    REFUSED_PAUSE_S,
    SYMBOL,
)
from node.rpc.auth import sign_request


class Http:
    """One keep-alive connection to one node, msgpack both ways."""

    def __init__(self, url: str, chain_id: str, timeout_s: float = 60.0) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.chain_id = chain_id
        self.timeout_s = timeout_s
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None,
                signer: Signer | None = None) -> tuple[int, Any]:
        headers = {"Accept": MSGPACK}
        if body is not None:
            headers["Content-Type"] = MSGPACK
        if signer is not None:
            headers["Authorization"] = sign_request(signer, self.chain_id, method, path,
                                                    int(time.time() * 1000), body or b"")
        for attempt in range(2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port,
                                                        timeout=self.timeout_s)
            try:
                self._conn.request(method, path, body=body, headers=headers)
                response = self._conn.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
                continue
            value = msgpack.unpackb(raw, raw=False) if raw else None
            return response.status, value
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def envelope(body_bytes: bytes, sig: bytes) -> bytes:
    return msgpack.packb({"body": body_bytes, "sig": sig}, use_bin_type=True)


def pack_batch(envelopes: Sequence[bytes]) -> bytes:
    """A msgpack array of already encoded envelopes, without decoding them again."""
    count = len(envelopes)
    if count < 16:
        head = bytes([0x90 | count])
    elif count < 2**16:
        head = b"\xdc" + count.to_bytes(2, "big")
    else:
        head = b"\xdd" + count.to_bytes(4, "big")
    return head + b"".join(envelopes)


def build_transfer(seed: bytes, chain: str, to: str, nonce: int, expires: int
                   ) -> tuple[bytes, bytes]:
    signer = Signer(seed)
    body = codec.pack({"v": 1, "chain": chain, "sender": signer.public_key, "nonce": nonce,
                       "expires": expires, "contract": "token", "method": "transfer",
                       "args": {"symbol": SYMBOL, "to": to, "amount": 1}})
    return codec.sha256(body), envelope(body, signer.sign(TX_DOMAIN, body))


def _sign_chunk(job: tuple[str, list[bytes], list[str], int, int, int]
                ) -> list[tuple[bytes, bytes]]:
    chain, seeds, accounts, start, count, expires = job
    signers = [Signer(seed) for seed in seeds]
    out = []
    for index in range(start, start + count):
        i = index % len(signers)
        signer = signers[i]
        body = codec.pack({"v": 1, "chain": chain, "sender": signer.public_key,
                           "nonce": index, "expires": expires, "contract": "token",
                           "method": "transfer",
                           "args": {"symbol": SYMBOL, "to": accounts[(i + 1) % len(accounts)],
                                    "amount": 1}})
        out.append((codec.sha256(body), envelope(body, signer.sign(TX_DOMAIN, body))))
    return out


def presign(chain: str, seeds: list[bytes], count: int, nonce_base: int
            ) -> list[tuple[bytes, bytes]]:
    """`count` transfers, signed in a process pool: investor i pays 1 unit to investor i+1.
    Nonces are `nonce_base + index`, so every point of a run gets fresh tx ids."""
    accounts = [Signer(seed).account for seed in seeds]
    expires = int(time.time() * 1000) + EXPIRY_MS
    jobs = [(chain, seeds, accounts, nonce_base + start, min(PRESIGN_CHUNK, count - start),
             expires) for start in range(0, count, PRESIGN_CHUNK)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(max(1, os.cpu_count() or 1)) as pool:
        chunks = pool.map(_sign_chunk, jobs)
    return [item for chunk in chunks for item in chunk]


def load_main(urls: list[str], batches_path: str, result_path: str, rate: int,
              interval_ms: int, duration_s: float, window: int, committed: Any,
              ready: Any, go: Any) -> None:
    """Entry of the load process: send the pre-built batches, write what happened."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    with open(batches_path, "rb") as handle:
        batches: list[list[Any]] = msgpack.unpackb(handle.read(), raw=False)
    results = asyncio.run(_drive(urls, batches, rate, interval_ms, duration_s, window,
                                 committed, ready, go))
    with open(result_path + ".tmp", "wb") as handle:
        handle.write(msgpack.packb(results, use_bin_type=True))
    os.replace(result_path + ".tmp", result_path)


async def _drive(urls: list[str], batches: list[list[Any]], rate: int, interval_ms: int,
                 duration_s: float, window: int, committed: Any, ready: Any, go: Any
                 ) -> dict[str, Any]:
    """Send `batches` ([first index, envelopes]); each record is [send time, the indices
    sent, the per-item codes or one error for the whole request]. With `rate` 0 a refused
    transaction (mempool_full, or a whole 503) goes back in a queue and is offered again
    before fresh ones, as a client that wants its transaction committed would: the load is
    then endless while the point lasts, and `refused` counts every refusal, retries included.
    At a fixed rate the schedule is the offer and the refused excess is not sent again."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0, limit_per_host=MAX_INFLIGHT_PER_NODE)
    timeout = aiohttp.ClientTimeout(total=120)
    records: list[list[Any]] = []
    base = committed.value
    admitted_total = 0
    paused_until = [0.0] * len(urls)  # per node: after a mempool_full, as fast as taken waits
    retry: collections.deque[tuple[int, bytes]] = collections.deque()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        slots = [asyncio.Semaphore(MAX_INFLIGHT_PER_NODE) for _ in urls]
        headers = {"Content-Type": MSGPACK, "Accept": MSGPACK}

        async def send(node: int, items: list[tuple[int, bytes]]) -> None:
            nonlocal admitted_total
            indices = [index for index, _ in items]
            body = pack_batch([env for _, env in items])
            async with slots[node]:
                sent = time.monotonic()
                try:
                    async with session.post(urls[node] + "/v1/txs", data=body,
                                            headers=headers) as response:
                        raw = await response.read()
                        status = response.status
                except (aiohttp.ClientError, OSError, TimeoutError) as error:
                    records.append([sent, indices, f"http:{type(error).__name__}"])
                    return
            if status != 200:
                records.append([sent, indices, f"http:{status}"])
                if status == 503:
                    paused_until[node] = time.monotonic() + REFUSED_PAUSE_S
                    if rate == 0:
                        retry.extend(items)
                return
            answers = msgpack.unpackb(raw, raw=False)
            codes = [item["error"]["code"] if "error" in item else ADMITTED for item in answers]
            admitted_total += codes.count(ADMITTED)
            if "mempool_full" in codes:
                paused_until[node] = time.monotonic() + REFUSED_PAUSE_S
                if rate == 0:
                    retry.extend(item for item, code in zip(items, codes, strict=True)
                                 if code == "mempool_full")
            records.append([sent, indices, codes])

        ready.set()
        go.wait()
        started = time.monotonic()
        deadline = started + duration_s
        tasks: set[asyncio.Task[None]] = set()
        sent_total = 0
        fresh = iter(batches)
        size = max((len(envs) for _, envs in batches), default=1)
        count = 0
        while True:
            if rate > 0:
                batch = next(fresh, None)
                if batch is None:
                    break
                first, envs = batch
                due = started + first / rate
                if due >= deadline:
                    break
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                items = list(enumerate(envs, first))
            else:  # as fast as the cluster takes them: at most `window` admitted and
                # uncommitted, and a node that refused some (mempool_full) rests a moment
                while (admitted_total - (committed.value - base) > window
                       or len(tasks) >= 2 * len(urls)
                       or min(paused_until) > time.monotonic()) \
                        and time.monotonic() < deadline:
                    await asyncio.sleep(0.002)
                if time.monotonic() >= deadline:
                    break
                if retry:
                    items = [retry.popleft() for _ in range(min(size, len(retry)))]
                else:
                    batch = next(fresh, None)
                    if batch is None:
                        if not tasks:
                            break  # everything was sent and answered
                        await asyncio.sleep(0.002)  # answers may bring refusals to retry
                        continue
                    first, envs = batch
                    items = list(enumerate(envs, first))
            node = count % len(urls)
            count += 1
            if rate == 0 and paused_until[node] > time.monotonic():
                node = min(range(len(urls)), key=lambda i: paused_until[i])
            sent_total += len(items)
            task = asyncio.create_task(send(node, items))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        sending_ended = time.monotonic()
        if tasks:
            await asyncio.gather(*tasks)
    return {"started": started, "sending_ended": sending_ended, "records": records,
            "sent": sent_total}


# -- one point ----------------------------------------------------------------------------------

def cut_batches(signed: list[tuple[bytes, bytes]], size: int) -> list[list[Any]]:
    """[index of the first, its envelopes] per batch of `size` transactions."""
    return [[start, [env for _, env in signed[start:start + size]]]
            for start in range(0, len(signed), size)]
