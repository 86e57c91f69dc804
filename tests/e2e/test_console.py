"""The regulator's console in a real headless browser (Debian's chromium, driven by Selenium) on
a real 4-operator cluster: the page loads the regulator's key file and signs its own requests;
the network page shows four nodes at one height; a block's commit certificate checks in the
browser, a proof file checks offline and a tampered one fails; the cap table at an earlier
height shows that height's balances; an investor's key sees its own holdings and a clear "not
allowed" on the regulator's pages; an idle page stays under a few requests per second.

Every test writes a screenshot of its page to docs/console/ (the README shows one). One browser
for the whole module, every wait bounded; a test that needs the regulator's console opens it
itself when the browser is elsewhere (as_regulator), so each test passes alone. Without
chromium and chromedriver the module is skipped, loudly: that is the only skip (`make test`
installs them where it can)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaincode.identity import sign_consent
from consensus.crypto import Signer
from node.tools.client import Client
from tests.e2e.conftest import Cluster, start_cluster, wait_until

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
MISSING = ("CHROMIUM NOT INSTALLED: the console's browser tests are SKIPPED "
           "(apt-get install chromium chromium-driver, or run `make test` as root)")

if (CHROMIUM is None or CHROMEDRIVER is None) and os.environ.get("REQUIRE_BROWSER"):
    raise RuntimeError("REQUIRE_BROWSER is set and chromium or chromedriver is missing")

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None, reason=MISSING)]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "console"
SYMBOL = "VIEW1"
WAIT_S = 30
IDLE_WINDOW_S = 12
IDLE_MAX_PER_S = 3.0


def investor_attrs() -> dict[str, Any]:
    return {"investor_type": "general", "legal_form": "individual", "country": "KR",
            "resident": True, "kyc_expires": 4_000_000_000_000, "aml_risk": "low"}


def committed(receipt: Any) -> int:
    assert receipt["status"] == "committed" and receipt["ok"] is True, receipt
    return int(receipt["height"])


def write_key(path: Path, signer: Signer) -> Path:
    path.write_text(json.dumps({"account": signer.account, "secret": signer.seed.hex()}))
    return path


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, dict[str, Any]]]:
    directory = tmp_path_factory.mktemp("console") / "net"
    net = start_cluster(directory, 4)
    try:
        yield net, run_story(net, directory.parent)
    finally:
        net.down()


def run_story(net: Cluster, scratch: Path) -> dict[str, Any]:
    """Two investors; a token issued to alice, then two transfers to bob (three heights)."""
    alice, bob = Signer.generate(), Signer.generate()
    broker = net.keys["broker-a"].account
    for signer, name in ((alice, {"name": "alice"}), (bob, {})):  # bob has no name
        committed(net.client("broker-a").submit("identity", "register", {
            "account": signer.account, "role": "investor", "attrs": investor_attrs() | name,
            "consent": sign_consent(signer, net.chain_id, broker, "investor")}))
    committed(net.client("issuer-1").submit("token", "create", {
        "symbol": SYMBOL, "name": "Console Tower", "asset_type": "real_estate",
        "unit_price": 5000, "max_supply": 1_000_000, "rules": {}}))
    committed(net.client("ksd").submit("token", "approve", {"symbol": SYMBOL, "cap": 100_000}))
    marks: dict[str, Any] = {"alice": alice, "bob": bob}
    marks["issued"] = committed(net.client("issuer-1").submit(
        "token", "issue", {"symbol": SYMBOL, "to": alice.account, "amount": 1000}))
    as_alice = net.client(signer=alice)
    marks["first"] = committed(as_alice.submit("token", "transfer", {
        "symbol": SYMBOL, "to": bob.account, "amount": 100}))
    marks["second"] = committed(as_alice.submit("token", "transfer", {
        "symbol": SYMBOL, "to": bob.account, "amount": 250}))
    committed(net.client("bank").submit("cash", "mint", {"to": alice.account,
                                                          "amount": 12_345_678}))
    marks["alice_key"] = write_key(scratch / "alice.json", alice)
    # every node at the last height before the browser looks
    last = net.client().status()["height"]
    for node in net.info["nodes"]:
        wait_until(lambda n=node: Client(n["rpc"], net.chain_id).status()["height"] >= last,
                   WAIT_S, f"{node['name']} at height {last}")
    return marks


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,1000", "--lang=en-US"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP violations
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


# ---- page helpers ----------------------------------------------------------------------------

def open_console(driver: Any, net: Cluster, key: Path, role: str, language: str = "en") -> None:
    """A fresh page (a new document: no key from before) with `key` loaded as `role`."""
    driver.get("about:blank")
    driver.get(net.url() + "/console/#/network")
    driver.execute_script(f"localStorage.setItem('stoledger.lang', '{language}')")
    driver.refresh()
    wait_until(lambda: driver.execute_script("return document.body.dataset.ready") == "1",
               WAIT_S, "the console to start")
    assert attribute(driver, "[data-testid=key-state]", "data-role") is None  # no key yet
    driver.find_element("id", "keyfile").send_keys(str(key))
    wait_until(lambda: attribute(driver, "[data-testid=key-state]", "data-role") == role,
               WAIT_S, f"the key to load as {role}")


def as_regulator(driver: Any, net: Cluster) -> None:
    """The console open with the regulator's key and English labels, whatever the browser showed
    before: a test that needs it calls this first, so that it passes alone (`-k`) or after any
    other test, not only after the one that happens to open the console (the browser starts on
    a blank `data:,` page, where `go` changes only the hash and no page ever renders). An open
    console in that state is kept as it is; anything else gets a fresh one (open_console)."""
    ready = driver.execute_script(
        "return location.href.startsWith(arguments[0]) && document.body.dataset.ready === '1'"
        " && document.documentElement.lang === 'en' && document.querySelector("
        "'[data-testid=key-state]')?.getAttribute('data-role')", net.url() + "/console/")
    if ready != "regulator":
        open_console(driver, net, net.dir / "keys" / "fss.json", "regulator")


def go(driver: Any, page: str) -> None:
    driver.execute_script("location.hash = arguments[0]", f"#/{page}")


def element(driver: Any, css: str, what: str) -> Any:
    from selenium.webdriver.common.by import By

    return wait_until(lambda: (driver.find_elements(By.CSS_SELECTOR, css) or [None])[0],
                      WAIT_S, what)


def shoot(driver: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def attribute(driver: Any, css: str, name: str) -> Any:
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e && e.getAttribute(arguments[1])",
        css, name)


# ---- tests -----------------------------------------------------------------------------------

def test_the_cli_prints_the_console_url(story):
    net, _ = story
    done = subprocess.run([sys.executable, "-m", "node.cli", "console", "--dir", str(net.dir)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == net.url() + "/console/"


def test_network_shows_four_nodes_at_one_height(story, browser):
    net, _ = story
    open_console(browser, net, net.dir / "keys" / "fss.json", "regulator", "ko")
    height = net.client().status()["height"]
    wait_until(lambda: attribute(browser, "[data-testid=height-summary]", "data-height")
               == str(height), WAIT_S, f"the network page to show every node at {height}")
    cells = browser.execute_script("return [...document.querySelectorAll("
                                   "'[data-testid=node-height]')].map(e => e.textContent)")
    assert cells == [str(height)] * 4
    assert "모든 노드 높이" in browser.find_element("id", "page").text  # Korean by default here
    shoot(browser, "network-ko")
    browser.find_element("id", "lang").click()
    wait_until(lambda: "All nodes at height" in browser.find_element("id", "page").text,
               WAIT_S, "the English labels")
    wait_until(lambda: "live" in browser.find_element("id", "footer").text, WAIT_S,
               "the block stream")
    shoot(browser, "network")


def test_block_certificate_checks_in_the_browser(story, browser):
    net, marks = story
    as_regulator(browser, net)
    go(browser, "blocks")
    element(browser, "[data-testid=block-list] tr.clickable", "the block list")
    shoot(browser, "blocks")
    go(browser, f"blocks/{marks['first']}")
    verdict = element(browser, "[data-testid=cert-verdict]", "the certificate verdict")
    assert verdict.get_attribute("data-valid") == "true", verdict.text
    assert "Certificate valid" in verdict.text
    votes = browser.find_element("css selector", "[data-testid=cert-votes]").text
    assert votes.count("valid") >= 3 and "invalid" not in votes
    txs = browser.find_element("css selector", "[data-testid=block-txs]").text
    assert "token.transfer" in txs
    shoot(browser, "block")


def test_proof_file_checks_offline_and_a_tampered_one_fails(story, browser, tmp_path):
    net, marks = story
    as_regulator(browser, net)
    proof = net.client("fss").get(f"/v1/audit/proof?height={marks['second']}", signed=True)
    good = tmp_path / "proof.json"
    good.write_text(json.dumps(proof))
    tampered = json.loads(json.dumps(proof))
    sig = tampered["certificate"]["votes"][0]["sig"]
    tampered["certificate"]["votes"][0]["sig"] = ("0" if sig[0] != "0" else "1") + sig[1:]
    tampered["certificate"]["votes"] = tampered["certificate"]["votes"][:3]
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(tampered))
    go(browser, "proof")
    upload = element(browser, "#prooffile", "the proof file input")
    upload.send_keys(str(good))
    wait_until(lambda: attribute(browser, "[data-testid=proof-verdict]", "data-valid") == "true",
               WAIT_S, "the proof to show valid")
    assert f"Block {marks['second']}" in browser.find_element(
        "css selector", "[data-testid=proof-verdict]").text
    element(browser, "#prooffile", "the proof file input").send_keys(str(bad))
    wait_until(lambda: attribute(browser, "[data-testid=proof-verdict]", "data-valid") == "false",
               WAIT_S, "the tampered proof to show invalid")
    text = browser.find_element("css selector", "[data-testid=proof-verdict]").text
    assert "bad signature" in text, text
    shoot(browser, "proof")


def cap_balances(driver: Any) -> dict[str, str]:
    return driver.execute_script(
        "const out = {}; document.querySelectorAll('[data-testid=cap-balance]').forEach("
        "e => { out[e.dataset.account] = e.textContent; }); return out")


def show_height(driver: Any, height: int) -> dict[str, str]:
    driver.execute_script("const i = document.querySelector('#atnum'); i.value = arguments[0];"
                          "i.dispatchEvent(new Event('change'))", height)
    wait_until(lambda: attribute(driver, "#cap", "data-at") == str(height)
               and attribute(driver, "#cap", "data-loading") is None, WAIT_S,
               f"the cap table at {height}")
    return cap_balances(driver)


def test_cap_table_at_an_earlier_height(story, browser):
    net, marks = story
    as_regulator(browser, net)
    alice, bob = marks["alice"].account, marks["bob"].account
    go(browser, f"tokens/{SYMBOL}")
    element(browser, "[data-testid=cap-table]", "the cap table")
    assert show_height(browser, marks["issued"]) == {alice: "1,000"}
    assert show_height(browser, marks["first"]) == {alice: "900", bob: "100"}
    assert show_height(browser, marks["second"]) == {alice: "650", bob: "350"}
    names = [e.text for e in browser.find_elements("css selector", "[data-testid=cap-table] .acct")]
    assert sorted(names) == sorted(["alice", f"{bob[:12]}…"]), names  # as the CLI names them
    assert "✔" in browser.find_element("css selector", "[data-testid=reconciles]").text
    show_height(browser, marks["first"])
    shoot(browser, "tokens")
    go(browser, f"tokens/{SYMBOL}/{bob}")  # a holder's history, from the cap table's link
    history = element(browser, "[data-testid=holder-history]", "bob's history").text
    assert history.count("token.transfer") == 2 and "identity.register" in history, history
    shoot(browser, "holder-history")


def has_market(net: Cluster) -> bool:
    status, value = net.client("fss").request("POST", "/v1/query", json.dumps({
        "contract": "market", "method": "quote", "args": {"symbol": SYMBOL}}).encode(),
        signed=True)
    return not (status == 400 and value["error"]["code"] == "unknown_contract")


def has_alerts(net: Cluster) -> bool:
    status, _ = net.client("fss").request("GET", "/v1/audit/alerts?limit=1", signed=True)
    return status != 404


def trade(net: Cluster, marks: dict[str, Any]) -> None:
    """Through broker-a: first a planted wash trade (alice sells 10 at 5,000 to bob, both
    orders from one origin: rule S1); then alice sells 50 at 5,000 and bob buys 30 of them; an
    ask at 5,100 and a bid at 4,900 stay on the book."""
    broker = net.client("broker-a")
    committed(net.client("bank").submit("cash", "mint", {"to": marks["bob"].account,
                                                          "amount": 1_000_000}))

    def place(who: str, side: str, price: int, qty: int, origin: str = "") -> Any:
        receipt = broker.submit("market", "place", {
            "symbol": SYMBOL, "account": marks[who].account, "side": side, "price": price,
            "qty": qty, "media": "hts",
            "origin": hashlib.sha256((origin or who).encode()).hexdigest()})
        committed(receipt)
        return receipt["result"]

    place("alice", "sell", 5000, 10, origin="one desk")
    marks["wash_trades"] = place("bob", "buy", 5000, 10, origin="one desk")["trades"]
    assert len(marks["wash_trades"]) == 1
    place("alice", "sell", 5000, 50)
    place("bob", "buy", 5000, 30)
    place("alice", "sell", 5100, 10)
    place("bob", "buy", 4900, 10)


def test_market_alerts_and_access_log_pages(story, browser):
    net, marks = story
    as_regulator(browser, net)
    if has_market(net):
        trade(net, marks)
        go(browser, f"market/{SYMBOL}")
        ladder = element(browser, "[data-testid=ladder]", "the order book ladder").text
        assert "5,100" in ladder and "4,900" in ladder and "20" in ladder, ladder
        trades = element(browser, "[data-testid=trades]", "the trades").text
        assert "5,000" in trades and "30" in trades, trades
        assert " KST" in trades and "alice" in trades, trades
        head = element(browser, "[data-testid=orders] thead", "the orders' header").text
        assert "Status" in head and "Cancel code" in head, head  # a state, and why it ended
    else:  # this chain has no market contract: the page says so
        go(browser, f"market/{SYMBOL}")
        element(browser, "[data-testid=market-missing]", "the market-missing message")
    shoot(browser, "market")
    go(browser, "alerts")
    if has_market(net) and has_alerts(net):
        planted = {str(t) for t in marks["wash_trades"]}
        trades, links = alert_evidence(browser, "S1")
        assert planted and planted <= trades, planted
        # the owner graph's link that made alice and bob one owner: the desk both used
        assert ("origin", hashlib.sha256(b"one desk").hexdigest()) in links, links
        listed = element(browser, "[data-testid=alert-list]", "the alert list").text
        assert re.search(r"KST \(\d+ (ms|s)", listed), listed  # the window, and how long
        evidence = element(browser, "[data-testid=evidence]", "the alert's evidence").text
        assert re.search(r"link_window_ms\s+\d+ d\b", evidence), evidence  # a duration
    else:  # no surveillance on this node: the page says so
        element(browser, "[data-testid=alerts-missing]", "the alerts-missing message")
    shoot(browser, "alerts")
    go(browser, f"tokens/{SYMBOL}")  # this test's own audit read, for the log to show
    element(browser, "[data-testid=cap-table]", "the cap table")
    go(browser, "access")
    log = element(browser, "[data-testid=access-log]", "the access log").text
    assert "/v1/audit/captable" in log and "fss" in log
    shoot(browser, "access")


def test_an_alert_shows_the_holds_it_caused_and_their_state(story, browser):
    """The registrar holds alice's trading and bob's withdrawals on the wash-trade alert and
    releases bob's: the alert list shows one active and one released, the evidence both with
    who placed and released them, and every hold on the alert's accounts."""
    net, marks = story
    if "wash_trades" not in marks:  # run alone (-k): plant the wash trade here
        trade(net, marks)
    alice, bob = marks["alice"].account, marks["bob"].account

    def wash_alert() -> Any:
        alerts = net.client("fss").get("/v1/audit/alerts?rule=S1", signed=True)["alerts"]
        return next((a for a in alerts if {alice, bob} <= set(a["accounts"])), None)

    alert = wait_until(wash_alert, WAIT_S, "the wash trade's S1 alert")
    registrar = net.client("ksd")
    held = {}
    for account, scope in ((alice, "trading"), (bob, "withdrawals")):
        receipt = registrar.submit("fds", "hold", {
            "account": account, "scope": scope, "reason": f"alert {alert['alert_id']}",
            "alert_id": alert["alert_id"]})
        committed(receipt)
        held[account] = receipt["result"]["hold_id"]
    committed(registrar.submit("fds", "release", {"hold_id": held[bob],
                                                  "reason": "examiner: bob is clean"}))
    as_regulator(browser, net)
    go(browser, "alerts")  # one page at a time: a page still rendering writes over the next
    element(browser, "[data-testid=alert-list], [data-testid=no-alerts]", "the alert list")
    alert_evidence(browser, "S1")  # the list read again (holds too), filtered to S1
    state = wait_until(lambda: browser.execute_script(
        "return [...document.querySelectorAll('[data-testid=alert-hold-state]')]"
        ".map(e => e.textContent).join('|')"), WAIT_S, "the hold state in the alert list")
    assert "1 active" in state and "1 released" in state, state
    index = next(i for i, a in enumerate(browser.execute_script(
        "return [...document.querySelectorAll('[data-testid=alert-list] tr.clickable')]"
        ".map(r => r.cells[4].innerHTML)")) if alice in a and bob in a)
    browser.execute_script("document.querySelector('#detail').innerHTML = '';"
                           "document.querySelectorAll('[data-testid=alert-list] "
                           "tr.clickable')[arguments[0]].click()", index)
    caused = element(browser, "[data-testid=alert-holds]", "the alert's holds").text
    assert "trading" in caused and "withdrawals" in caused, caused
    assert "active" in caused and "released" in caused and "examiner: bob is clean" in caused
    assert "ksd" in caused  # who placed and released them
    accounts = element(browser, "[data-testid=account-holds]", "the accounts' holds").text
    assert accounts.count("alert ") >= 2, accounts
    shoot(browser, "alert-holds")
    committed(registrar.submit("fds", "release", {"hold_id": held[alice], "reason": "done"}))


def alert_evidence(driver: Any, rule: str) -> tuple[set[str], set[tuple[str, str]]]:
    """The trade ids in the evidence of every `rule` alert, opened one by one on the page, and
    the owner links shown with them as (kind, via)."""
    driver.execute_script("const i = document.querySelector('[data-filter=rule]');"
                          "i.value = arguments[0]; document.getElementById('apply').click()",
                          rule)
    rows = wait_until(lambda: driver.execute_script(
        "const t = document.querySelector('[data-testid=alert-list]');"
        "return t && [...t.querySelectorAll('tr.clickable')].every("
        "r => r.cells[0].textContent === arguments[0]) && t.querySelectorAll('tr.clickable')"
        ".length", rule), WAIT_S, f"the {rule} alerts")
    found: set[str] = set()
    links: set[tuple[str, str]] = set()
    for i in range(min(rows, 10)):
        driver.execute_script("document.querySelector('#detail').innerHTML = '';"
                              "document.querySelectorAll('[data-testid=alert-list] "
                              "tr.clickable')[arguments[0]].click()", i)
        element(driver, "[data-testid=evidence-trades]", "the alert's evidence")
        found |= set(driver.execute_script(
            "return [...document.querySelectorAll('[data-testid=evidence-trade]')]"
            ".map(e => e.textContent)"))
        shown = driver.execute_script(
            "return [...document.querySelectorAll('[data-testid=owner-links] tbody tr')]"
            ".filter(r => r.querySelector('[data-testid=owner-link-via]')).map(r => ["
            "r.querySelector('[data-testid=owner-link-kind]').textContent,"
            "r.querySelector('[data-testid=owner-link-via]').title])")
        links |= {("origin" if kind in ("shared device (origin)", "같은 접속지(기기)") else kind,
                   via) for kind, via in shown}
    return found, links


MSGPACK_CASES = [0, 1, 127, 128, 255, 256, 65_535, 65_536, 2**32 - 1, 2**32, 2**53 - 1, -1, -32,
                 -33, -128, -129, -32_768, -32_769, -(2**31), -(2**31) - 1, "", "a", "x" * 31,
                 "x" * 32, "x" * 300, "한국", True, False, None, [1, 2, [3]], list(range(20)),
                 {"b": 1, "a": 2, "가": 3, "aa": [], "A": {"z": 0, "y": None}}]


def test_the_page_encodes_msgpack_as_the_node_does(story, browser):
    """The browser's canonical msgpack (the bytes commit votes sign) is the node's, byte for
    byte, and decodes back to itself; bytes values included."""
    from consensus import codec

    as_regulator(browser, story[0])  # the page's origin serves /console/msgpack.js

    encoded = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "import('/console/msgpack.js').then(m => {"
        "  const hex = b => [...b].map(x => x.toString(16).padStart(2, '0')).join('');"
        "  const cases = JSON.parse(arguments[0]);"
        "  cases.push(new Uint8Array([1, 2, 3]), {block_hash: new Uint8Array(32), height: 7});"
        "  done(cases.map(c => { const e = m.encode(c);"
        "    return hex(m.encode(m.decode(e))) === hex(e) ? hex(e) : 'roundtrip ' + hex(e); }));"
        "}, e => done(String(e)))", json.dumps(MSGPACK_CASES, ensure_ascii=False))
    expected = [codec.pack(c).hex() for c in
                [*MSGPACK_CASES, b"\x01\x02\x03", {"block_hash": bytes(32), "height": 7}]]
    assert encoded == expected


def test_an_idle_console_makes_few_requests(story, browser):
    net, _ = story
    as_regulator(browser, net)
    go(browser, "network")
    element(browser, "[data-testid=nodes]", "the network page")
    before = total_requests(net)
    time.sleep(IDLE_WINDOW_S)  # measuring a rate over a window: the wait is the measurement
    after = total_requests(net) - len(net.info["nodes"])  # our own /metrics reads
    rate = (after - before) / IDLE_WINDOW_S
    assert rate <= IDLE_MAX_PER_S, f"{rate:.2f} requests/s from an idle network page"


def total_requests(net: Cluster) -> int:
    total = 0
    for node in net.info["nodes"]:
        text = Client(node["rpc"], net.chain_id).request("GET", "/metrics")[1]
        total += sum(int(float(v)) for v in re.findall(
            r'^stoledger_http_requests_total\{[^}]*\} (\S+)$', text, re.M))
    return total


def test_an_investor_sees_its_holdings_and_not_the_regulator_pages(story, browser):
    net, marks = story
    open_console(browser, net, marks["alice_key"], "investor")
    go(browser, f"tokens/{SYMBOL}")
    mine = element(browser, f"[data-testid=my-balance][data-symbol={SYMBOL}]", "own holdings")
    own = net.client(signer=marks["alice"]).query("token", "balance", {
        "symbol": SYMBOL, "account": marks["alice"].account})
    assert mine.text == f"{own['balance']:,}"  # 650, less what the market test sold
    cash = net.client(signer=marks["alice"]).query("cash", "balance", {
        "account": marks["alice"].account})
    assert f"₩{cash['balance']:,}" in browser.find_element(
        "css selector", "[data-testid=my-holdings]").text
    element(browser, "[data-testid=not-allowed]", "the cap table refused")
    shoot(browser, "investor-tokens")
    for page in ("alerts", "access", "blocks"):
        go(browser, page)
        box = wait_until(lambda p=page: browser.execute_script(
            "return document.getElementById('page').dataset.page === arguments[0] && "
            "document.querySelector('[data-testid=not-allowed], [data-testid=alerts-missing]')",
            p), WAIT_S, f"{page} refused")
        assert box.get_attribute("data-testid") in ("not-allowed", "alerts-missing")
        if page != "alerts":
            assert "Not allowed" in box.text and "investor" in box.text
    shoot(browser, "investor-denied")



OFFER = "OFFER1"


def offer(net: Cluster, marks: dict[str, Any]) -> int:
    """issuer-1 offers 100 units of OFFER1 at 1,000 KRW (half shared equally): alice asks 80,
    bob 70; then allocates after the close. Returns the offering id."""
    issuer = net.client("issuer-1")
    committed(issuer.submit("token", "create", {
        "symbol": OFFER, "name": "Console offering", "asset_type": "bond", "unit_price": 1000,
        "max_supply": 10_000, "rules": {}}))
    committed(issuer.submit("token", "set_document", {
        "symbol": OFFER, "name": "prospectus", "uri": "https://example.invalid/o.pdf",
        "sha256": "ab" * 32}))
    committed(net.client("ksd").submit("token", "approve", {"symbol": OFFER, "cap": 1_000}))
    for name in ("alice", "bob"):
        committed(net.client("bank").submit("cash", "mint", {"to": marks[name].account,
                                                              "amount": 100_000}))
    end = int(time.time() * 1000) + 4_000
    opened = issuer.submit("offering", "open", {
        "symbol": OFFER, "price": 1000, "qty": 100, "start_time": end - 4_000,
        "end_time": end, "min_qty": 1, "max_qty": 100, "equal_bps": 5_000})
    committed(opened)
    offering_id = opened["result"]["offering_id"]
    for name, qty in (("alice", 80), ("bob", 70)):
        committed(net.client("broker-a").submit("offering", "subscribe", {
            "offering_id": offering_id, "account": marks[name].account, "qty": qty}))
    wait_until(lambda: time.time() * 1000 > end + 500, WAIT_S, "the window to close")
    while not issuer.submit("offering", "allocate", {"offering_id": offering_id,
                                                     "max_steps": 2})["result"]["done"]:
        pass
    return int(offering_id)


def offering_rows(driver: Any) -> dict[str, list[str]]:
    """account -> the cells of its row in the allocation table."""
    return driver.execute_script(
        "const rows = {}; document.querySelectorAll('[data-testid=subscription]').forEach("
        "r => rows[r.dataset.account] = [...r.cells].map(c => c.textContent)); return rows")


def test_the_offering_page_shows_the_allocation_to_the_issuer_and_the_regulator(story,
                                                                                browser):
    from chaincode.allocation import compute_allocation, draw_key

    net, marks = story
    offering_id = offer(net, marks)
    order = sorted(("alice", "bob"), key=lambda n: draw_key(offering_id, marks[n].account))
    shares = dict(zip(order, compute_allocation(100, 5_000, [{"alice": 80, "bob": 70}[n]
                                                              for n in order]), strict=True))
    for key, role in ((net.dir / "keys" / "fss.json", "regulator"),
                      (net.dir / "keys" / "issuer-1.json", "issuer")):
        open_console(browser, net, key, role)
        go(browser, f"offerings/{OFFER}")
        element(browser, "[data-testid=allocation-total]", "the allocation table")
        assert attribute(browser, "[data-testid=offering-terms]", "data-status") == "allocated"
        rows = offering_rows(browser)
        for name, share in shares.items():
            cells = rows[marks[name].account]
            asked, equal, pro_rata, allocated, refunded = cells[2:7]
            assert (asked, equal, pro_rata, allocated) == (
                str({"alice": 80, "bob": 70}[name]), str(share.equal), str(share.pro_rata),
                str(share.total)), cells
            assert refunded == f"₩{({'alice': 80, 'bob': 70}[name] - share.total) * 1000:,}"
        total = element(browser, "[data-testid=allocation-total]", "the totals").text
        assert "150" in total and "100" in total and "₩50,000" in total, total
        shot = "offering" if role == "regulator" else "offering-issuer"
        shoot(browser, shot)
    # an investor sees the offering's terms, and a clear refusal of the book
    open_console(browser, net, marks["alice_key"], "investor")
    go(browser, f"offerings/{OFFER}")
    element(browser, "[data-testid=offering-terms]", "the offering's terms")
    box = element(browser, "[data-testid=offering] [data-testid=not-allowed]",
                  "the book refused to an investor")
    assert "investor" in box.text


def test_a_console_opened_again_and_again_still_answers(story, browser):
    """Each visit's block stream is a fetch that never ends; a page left behind must give its
    connection back. Before, a left page kept its stream, each holding one of the browser's
    six connections to the node: from the seventh visit on, every request waited for good."""
    net, _ = story
    for _ in range(7):
        open_console(browser, net, net.dir / "keys" / "fss.json", "regulator")
        wait_until(lambda: browser.execute_script(
            "return document.querySelector('footer')?.textContent.includes('●')"),
            WAIT_S, "the block stream to go live")
    go(browser, f"tokens/{SYMBOL}")
    element(browser, "#atnum", "the cap table's height input")


# ---- issue 27, item 6: the page runs under a strict policy and cannot be framed -------------

def csp_violations(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser")
            if "Content Security Policy" in entry["message"]]


def test_the_console_runs_under_its_content_security_policy(story, browser):
    """Every page that builds inputs, the network page reading every node (connect-src), the
    proof download: none breaks the policy (chromium logs each violation)."""
    net, _ = story
    open_console(browser, net, net.dir / "keys" / "fss.json", "regulator")
    height = net.client().status()["height"]
    wait_until(lambda: attribute(browser, "[data-testid=height-summary]", "data-height")
               == str(height), WAIT_S, "every node's status, read across origins")
    go(browser, f"tokens/{SYMBOL}")
    element(browser, "#atnum", "the cap table's height input")
    go(browser, "proof")
    element(browser, "#height", "the proof page's height input")
    assert csp_violations(browser) == []


def test_another_origin_cannot_frame_the_console(story, browser):
    """A page of another origin (another port of 127.0.0.1) frames /console/: the browser
    refuses to show it (before, the console loaded and ran in the frame, under that page)."""
    import http.server
    import threading

    net, _ = story
    page = f"<iframe id='f' src='{net.url()}/console/'></iframe>".encode()

    class Framing(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Framing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        browser.get(f"http://127.0.0.1:{server.server_address[1]}/")
        frame = element(browser, "#f", "the frame")

        def framed_state() -> str | None:
            browser.switch_to.frame(frame)
            try:
                return browser.execute_script(
                    "if (location.href.startsWith('chrome-error:')) return 'refused';"
                    "return document.body?.dataset.ready === '1' ? 'loaded' : null")
            finally:
                browser.switch_to.default_content()

        assert wait_until(framed_state, WAIT_S, "the frame to load or be refused") == "refused"
    finally:
        server.shutdown()
        thread.join(10)
