#!/usr/bin/env python3
"""Hand-written mutants: does the suite notice when a rule is broken?

Each mutant names a file, an exact piece of its text, the text to put in its place, and the
few tests that should fail when the rule it breaks is gone. A mutant is applied to a fresh
copy of the repository in a temporary directory (the working tree is never touched), its tests
run there with `pytest -x -q`, and it is

    killed    its tests failed (the suite noticed), or
    SURVIVED  its tests passed (a rule nobody checks): a failure, or
    STALE     its text is no longer in the file (the code moved on): a failure too, or
    ERROR     its tests could not run (collection error, timeout): a failure too.

Before any mutant, the same tests run once on an unmutated copy: a mutant "killed" by a test
that fails anyway proves nothing, so a red baseline stops the run.

    python scripts/mutants.py            # every mutant, 2 at a time; `make mutants`
    python scripts/mutants.py --list     # names, files and tests
    python scripts/mutants.py -k dividend_largest   # the mutants whose name contains it

The last line is `N passed, M failed`: N killed, M survived, stale or in error. Add a mutant
whenever a rule is added (market and surveillance rules included), and keep each one's test
list short: only the files that should kill it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from surveillance_mutants import SURVEILLANCE_MUTANTS

ROOT = Path(__file__).resolve().parent.parent
# __pycache__ is copied: its .pyc files stay valid for every file the mutant leaves alone (the
# copy keeps modification times), which saves each run compiling the whole tree again.
COPY_IGNORE = shutil.ignore_patterns(".venv", ".git", ".pytest_cache",
                                     ".mypy_cache", ".ruff_cache", "*.egg-info", "build")
PACKAGES = ("consensus", "chaincode", "node", "genesis")
TIMEOUT_S = 600  # one mutant's tests; a hang is an error, not a kill
WORKERS = 2


@dataclass(frozen=True)
class Mutant:
    name: str
    paths: tuple[str, ...]  # candidates, first that exists wins (files being moved)
    edits: tuple[tuple[str, str], ...]  # (exact text, its replacement); each text occurs once
    tests: tuple[str, ...]  # pytest paths or node ids


def mutant(name: str, path: str | tuple[str, ...], old: str, new: str, *tests: str) -> Mutant:
    paths = (path,) if isinstance(path, str) else path
    return Mutant(name, paths, ((old, new),), tests)


def mutant_edits(name: str, path: str | tuple[str, ...], edits: list[tuple[str, str]],
                 *tests: str) -> Mutant:
    """Several edits in one file, applied together (one bug with several call sites)."""
    paths = (path,) if isinstance(path, str) else path
    return Mutant(name, paths, tuple(edits), tests)


COMPLIANCE = "chaincode/compliance.py"
DIVIDEND = "chaincode/dividend.py"
MESSAGES = "consensus/messages.py"
VIEW_CHANGE = "consensus/view_change.py"
REPLICA = "consensus/replica.py"
QUORUM = "consensus/quorum.py"
BLOCK = "consensus/block.py"
AUDIT_ROUTES = "node/rpc/audit.py"
CHECKER = ("node/sim/checker.py", "node/sim_checker.py")  # moving into node/sim/
SIM_HOST = ("node/sim/host.py", "node/sim.py")
SIM_RUN = ("node/sim/run.py", "node/sim.py")

RULE_ORDER = "tests/chaincode/test_rule_order.py"
TOKEN = "tests/chaincode/test_token.py"
DIVIDEND_TESTS = "tests/chaincode/test_dividend.py"
FORGED = "tests/consensus/test_forged_signatures.py"
RESTART = "tests/consensus/test_restart.py"
NORMAL = "tests/consensus/test_normal_case.py"
BAD_INPUT = "tests/consensus/test_bad_input.py"
WIRE = "tests/consensus/test_wire.py"
CHECKPOINTS = "tests/consensus/test_checkpoints.py"
AUDIT = "tests/node/test_audit.py"
CHECKER_BITES = "tests/sim/test_checker_bites.py"
SIMULATOR = "tests/sim/test_simulator.py"

# refuse_transfer's checks are one chain of `or`s (compliance.py), one step per check, each with
# the party it blames; a mutant reorders steps, drops one or blames the other party.
_STEPS = ('    return (_blame(_check_paused(token), None)\n',
          '            or _blame(_check_balance(amount, sender_holding), SENDER)\n',
          '            or _blame(_check_verified(sender, now, "SENDER_NOT_VERIFIED", "sender"), '
          'SENDER)\n',
          '            or _blame(_check_verified(recipient, now, "RECIPIENT_NOT_VERIFIED", '
          '"recipient"),\n                      RECIPIENT)\n',
          '            or _blame(_check_aml(sender), SENDER)\n',
          '            or _blame(_check_aml(recipient), RECIPIENT)\n',
          '            or _blame(_check_held(sender_held, False), SENDER)\n',
          '            or _blame(_check_held(False, recipient_held), RECIPIENT)\n',
          '            or _blame(_check_lockup(sender_holding, amount, now), SENDER)\n',
          '            or _blame(_check_recipient_rules(token, token["rules"], recipient), '
          'RECIPIENT)\n',
          '            or _blame(_check_max_holders(token, amount, sender_holding, '
          'recipient_holding,\n'
          '                                         investors, sender_is_issuer, '
          'recipient_is_issuer),\n                      RECIPIENT)\n',
          '            or _blame(_check_holding_limit(token, recipient_holding["balance"] + '
          'amount),\n                      RECIPIENT)\n',
          '            or _blame(_check_investment_limits(token, amount, recipient, '
          'recipient_net,\n'
          '                                               recipient_issuer_net, general_limit, '
          'price),\n                      RECIPIENT))\n')
_FIRST, _NEXT = "    return (", "            or "


def _step(index: int, at: int) -> str:
    """Step `index` of the chain as written where step `at` stands (the first step opens the
    chain with `return (`, the last closes it)."""
    text = _STEPS[index]
    if index == 0:
        text = _NEXT + text[len(_FIRST):]
    if at == 0:
        text = _FIRST + text[len(_NEXT):]
    if index == len(_STEPS) - 1:
        text = text[:-len("))\n")] + ")\n"
    if at == len(_STEPS) - 1:
        text = text[:-len(")\n")] + "))\n"
    return text


def reordered(name: str, order: tuple[int, ...], *tests: str) -> Mutant:
    """The chain's steps `sorted(order)` (adjacent) written in `order` instead."""
    places = sorted(order)
    old = "".join(_STEPS[i] for i in places)
    new = "".join(_step(index, at) for index, at in zip(order, places, strict=True))
    return mutant(name, COMPLIANCE, old, new, *tests)


_RECIPIENT_ALONE = """    if not is_verified(recipient, now):
        return ("RECIPIENT_NOT_VERIFIED",
                "the recipient is unregistered, revoked or its KYC expired")
"""
_HOLDING_ALONE = '''    if _over_holding_limit(token, recipient_holding["balance"] + amount):
        return "HOLDING_LIMIT_EXCEEDED", _holding_limit_message(token)
'''
_ISSUE_NOT_APPROVED = '''    if token["cap"] is None:
        return "NOT_APPROVED", f"the registrar has not approved an issuance cap for " \\
            f"{token['symbol']}"
'''
_ISSUE_AML = '''    if is_aml_blocked(recipient):
        return "AML_BLOCKED", "the recipient is AML high-risk"
'''
_ISSUE_MAX_HOLDERS = (
    "    if (rules[\"max_holders\"] and recipient_holding[\"balance\"] == 0 "
    "and not recipient_is_issuer\n"
    "            and investors + 1 > rules[\"max_holders\"]):\n"
    "        return _max_holders_verdict(token)\n")
_ISSUE_INVESTMENT = (
    "    verdict = _check_investment_limits(token, amount, recipient, recipient_net,\n"
    "                                       recipient_issuer_net, general_limit, price)\n"
    "    if verdict is not None:\n"
    "        return verdict\n")
_ISSUE_CAP = '''    if token["issued"] + reserved + amount > token["cap"]:
        return ("CAP_EXCEEDED", f"issuing {amount} more would pass the cap of {token['cap']} "
                f"({token['issued']} already issued, {reserved} reserved by open offerings)")
'''
_RECIPIENT_RULES = '''    verdict = _check_recipient_rules(token, rules, recipient)
    if verdict is not None:
        return verdict
'''
_TYPE = '''    if allowed_types and attr(recipient, "investor_type") not in allowed_types:
        return ("INVESTOR_TYPE_NOT_ALLOWED", f"{token['symbol']} may be held only by "
                f"{', '.join(allowed_types)} investors")
'''
_COUNTRY = '''    allowed_countries = rules["allowed_countries"]
    if allowed_countries and attr(recipient, "country") not in allowed_countries:
        return ("COUNTRY_NOT_ALLOWED", f"{token['symbol']} may be held only in "
                f"{', '.join(allowed_countries)}")
'''


def swapped(first: str, second: str) -> tuple[str, str]:
    """(old, new) that swaps two adjacent checks."""
    return first + second, second + first


def _swap(name: str, first: str, second: str, *tests: str) -> Mutant:
    old, new = swapped(first, second)
    return mutant(name, COMPLIANCE, old, new, *tests)


MUTANTS: list[Mutant] = [
    # ---- chaincode: the transfer checks in PROTOCOL's order ----------------------------------
    reordered("transfer_balance_before_paused", (1, 0), RULE_ORDER),
    reordered("transfer_sender_before_balance", (2, 1), RULE_ORDER),
    reordered("transfer_recipient_before_sender", (3, 2), RULE_ORDER),
    reordered("transfer_aml_before_recipient", (4, 5, 3), RULE_ORDER),
    reordered("transfer_held_before_aml", (6, 7, 4, 5), RULE_ORDER),
    reordered("transfer_lockup_before_held", (8, 6, 7), RULE_ORDER),
    reordered("transfer_recipient_rules_before_lockup", (9, 8), RULE_ORDER),
    reordered("transfer_holding_limit_before_max_holders", (11, 10), RULE_ORDER),
    reordered("transfer_investment_limit_before_holding_limit", (12, 11), RULE_ORDER),
    mutant("country_before_investor_type", COMPLIANCE,
           '    allowed_types = rules["allowed_investor_types"]\n' + _TYPE + _COUNTRY,
           _COUNTRY + '    allowed_types = rules["allowed_investor_types"]\n' + _TYPE,
           RULE_ORDER),
    mutant("aml_checks_only_the_recipient", COMPLIANCE, _STEPS[4], "", TOKEN),
    mutant("max_holders_ignores_a_leaving_sender", COMPLIANCE,
           'leaves = sender_holding["balance"] == amount', "leaves = False", TOKEN),
    mutant("holding_limit_off_by_one", COMPLIANCE,
           'balance_after * 10_000 > token["max_supply"] * bps',
           'balance_after * 10_000 >= token["max_supply"] * bps', TOKEN),
    # ---- chaincode: the issuance checks in order ---------------------------------------------
    _swap("issue_recipient_before_not_approved", _ISSUE_NOT_APPROVED, _RECIPIENT_ALONE,
          RULE_ORDER),
    _swap("issue_aml_before_recipient", _RECIPIENT_ALONE, _ISSUE_AML, RULE_ORDER),
    _swap("issue_recipient_rules_before_aml", _ISSUE_AML, _RECIPIENT_RULES, RULE_ORDER),
    _swap("issue_holding_limit_before_max_holders", _ISSUE_MAX_HOLDERS, _HOLDING_ALONE,
          RULE_ORDER),
    _swap("issue_investment_limit_before_holding_limit", _HOLDING_ALONE, _ISSUE_INVESTMENT,
          RULE_ORDER),
    _swap("issue_cap_before_investment_limit", _ISSUE_INVESTMENT, _ISSUE_CAP, RULE_ORDER),
    # ---- chaincode: dividend -----------------------------------------------------------------
    mutant("dividend_largest_remainder_sorted_by_name_only", DIVIDEND,
           "key=lambda i: (-remainders[i], holdings[i][0])", "key=lambda i: holdings[i][0]",
           DIVIDEND_TESTS),
    mutant("dividend_smallest_remainder_first", DIVIDEND,
           "key=lambda i: (-remainders[i], holdings[i][0])",
           "key=lambda i: (remainders[i], holdings[i][0])", DIVIDEND_TESTS),
    mutant("dividend_local_tax_not_withheld", DIVIDEND,
           "return income_tax, local_tax, gross - income_tax - local_tax",
           "return income_tax, local_tax, gross - income_tax", DIVIDEND_TESTS),
]


_SIGNATURE_CHECK = """    key = committee.keys.get(message.sender)
    if key is None:
        return False
"""


def unverified(type_name: str, *tests: str) -> Mutant:
    """`is_signed_by_sender` accepts any signature on messages of one type."""
    return mutant(f"{type_name.lower()}_signatures_not_verified", MESSAGES, _SIGNATURE_CHECK,
                  f"    if isinstance(message, {type_name}):\n        return True\n"
                  + _SIGNATURE_CHECK, *tests)


MUTANTS += [
    # ---- consensus: signatures ---------------------------------------------------------------
    unverified("Checkpoint", FORGED),
    unverified("ViewChange", FORGED),
    unverified("NewView", FORGED),
    unverified("PrePrepare", FORGED),
    unverified("Prepare", FORGED, BAD_INPUT),
    mutant("replica_accepts_bad_signatures", REPLICA,
           "if not msg.is_signed_by_sender(message, self.committee):", "if False:",
           BAD_INPUT),
    mutant("replica_accepts_relayed_messages", REPLICA,
           "if message.sender != event.sender:", "if False:", BAD_INPUT),
    mutant("view_change_inner_signature_not_checked", VIEW_CHANGE,
           'if not is_signed_by_sender(vc, committee):\n        return "bad view-change',
           'if False:\n        return "bad view-change', FORGED),
    mutant("proof_vote_signatures_not_checked", VIEW_CHANGE,
           "        if not is_signed_by_sender(vote, committee):", "        if False:", FORGED),
    mutant("prepared_certificate_pre_prepare_signature_not_checked", VIEW_CHANGE,
           "if not is_signed_by_sender(pre_prepare, committee):\n        return \"bad pre-prepare",
           "if False:\n        return \"bad pre-prepare", FORGED),
    mutant("re_proposal_signature_not_checked", VIEW_CHANGE,
           "        if not is_signed_by_sender(pre_prepare, committee):\n"
           "            return \"bad re-proposal", "        if False:\n"
           "            return \"bad re-proposal", FORGED),
    # ---- consensus: never sign a vote that contradicts a persisted one ------------------------
    mutant_edits("persisted_vote_refusal_off_at_all_four_call_sites", REPLICA, [
        ('if not self._may_sign("prepare", self._view, slot.seq, digest):', "if False:"),
        ('if not self._may_sign("commit", self._view, slot.seq, digest):', "if False:"),
        ('if not self._may_sign("pre_prepare", self._view, seq, block.hash):', "if False:"),
        ('if not self._may_sign("pre_prepare", target, unsigned.seq, unsigned.digest):',
         "if False:")], RESTART),
    mutant("persisted_vote_refusal_off_for_commits", REPLICA,
           'if not self._may_sign("commit", self._view, slot.seq, digest):', "if False:",
           RESTART),
    mutant("restored_votes_forgotten", "consensus/wal.py",
           "        self._signed[(kind, seq)] = max(self._signed.get((kind, seq)",
           "        self._signed[(kind, -1)] = max(self._signed.get((kind, seq)", RESTART),
    # ---- consensus: view change -------------------------------------------------------------
    mutant("new_view_forgets_prepared_blocks", VIEW_CHANGE, "chosen = best.get(seq)",
           "chosen = None", "tests/consensus/test_view_change.py",
           "tests/sim/test_scenarios.py::test_view_change_while_some_replicas_prepared_and_"
           "others_did_not"),
    mutant("new_view_prefers_the_older_certificate", VIEW_CHANGE,
           "(cert.view, cert.block.hash) > (known.view, known.block.hash)",
           "(cert.view, cert.block.hash) < (known.view, known.block.hash)",
           "tests/consensus/test_view_change.py"),
    mutant("view_change_joined_on_one_peer", REPLICA,
           "        if len(higher) >= self.committee.weak_quorum:",
           "        if len(higher) >= 1:", FORGED, "tests/consensus/test_view_change.py"),
    # ---- consensus: quorums ------------------------------------------------------------------
    mutant("quorum_is_2f", QUORUM, "return (n + max_faulty(n)) // 2 + 1",
           "return (n + max_faulty(n)) // 2", "tests/consensus/test_messages.py", NORMAL),
    mutant("prepared_with_one_prepare_short", REPLICA,
           "                if len(prepares) < self.committee.quorum:",
           "                if len(prepares) < self.committee.quorum - 1:", NORMAL),
    mutant("committed_with_one_commit_short", REPLICA,
           "                if len(commits) >= self.committee.quorum:",
           "                if len(commits) >= self.committee.quorum - 1:", NORMAL),
    mutant("stable_checkpoint_with_f_plus_1_votes", REPLICA,
           "if len(votes) < self.committee.quorum or seq <= self._stable.seq:",
           "if len(votes) < self.committee.weak_quorum or seq <= self._stable.seq:",
           CHECKPOINTS, FORGED),
    mutant("certificate_signatures_not_checked", BLOCK,
           "if not verify(vote.public_key, COMMIT_DOMAIN, message, vote.sig):", "if False:",
           WIRE),
    mutant("certificate_needs_only_2f", BLOCK, "if len(seen) < quorum:",
           "if len(seen) < quorum - 1:", WIRE),
]


OFFERING = "chaincode/offering.py"
ALLOCATION = "chaincode/allocation.py"
REDEMPTION = "chaincode/redemption.py"
OFFERING_TESTS = "tests/chaincode/test_offering.py"
REDEMPTION_TESTS = "tests/chaincode/test_redemption.py"
OFFERING_PROPERTIES = "tests/chaincode/test_offering_properties.py"

MUTANTS += [
    # ---- chaincode: offering (each check of PROTOCOL's orders has a ladder test) -------------
    mutant("offering_open_without_prospectus", OFFERING,
           'if not ctx.call("token", "has_document", symbol=symbol, name=PROSPECTUS):',
           "if False:", OFFERING_TESTS),
    mutant("offering_open_ignores_the_cap", OFFERING,
           'if token["issued"] + token["reserved"] + terms["qty"] > token["cap"]:', "if False:",
           OFFERING_TESTS),
    mutant("offering_issue_ignores_reserved_units", COMPLIANCE,
           'if token["issued"] + reserved + amount > token["cap"]:',
           'if token["issued"] + amount > token["cap"]:', OFFERING_TESTS),
    mutant("offering_subscribe_by_another_broker", OFFERING,
           'if record is None or record.get("broker") != ctx.caller:', "if record is None:",
           OFFERING_TESTS),
    mutant("offering_subscribe_twice", OFFERING,
           'if previous is not None and previous["status"] == "live":', "if False:",
           OFFERING_TESTS),
    mutant("offering_subscriber_held_not_refused", "chaincode/token.py",
           'held=is_held(ctx, account, "trading"), recipient_net=net,',
           "held=False, recipient_net=net,", OFFERING_TESTS),
    mutant("offering_allocation_skips_eligibility", ALLOCATION,
           "        if verdict is not None:\n"
           "            ctx.state.delete(draw_prefix(offering_id) + draw)",
           "        if False:\n"
           "            ctx.state.delete(draw_prefix(offering_id) + draw)", OFFERING_TESTS),
    mutant("offering_issuance_refusal_still_allocates", ALLOCATION,
           'code = None if verdict is None else verdict[0]', "code = None", OFFERING_TESTS),
    mutant("offering_partial_round_unbounded", ALLOCATION,
           '        work["extras"] -= int(extra)\n', "", OFFERING_TESTS,
           OFFERING_PROPERTIES),
    mutant("offering_leftover_units_not_given", ALLOCATION,
           '        subscription["pro_rata"] += 1\n', "", OFFERING_TESTS,
           OFFERING_PROPERTIES),
    mutant("offering_remainder_ties_against_draw_order", ALLOCATION,
           'return f"{total_still - 1 - remainder:0{REMAINDER_DIGITS}d}/{draw}"',
           'return f"{total_still - 1 - remainder:0{REMAINDER_DIGITS}d}/{draw[::-1]}"',
           OFFERING_TESTS),
    mutant("offering_allocate_before_the_close", OFFERING,
           'if ctx.time < offering["end_time"]:', "if False:", OFFERING_TESTS),
    mutant("offering_cancel_while_allocating", OFFERING,
           'if offering["phase"] not in (SUBSCRIBING, CANCELLED):', "if False:",
           OFFERING_TESTS),
    mutant("redemption_withholds_on_the_whole_price", REDEMPTION,
           "    gain = max(0, price - unit_price) * units\n", "    gain = price * units\n",
           REDEMPTION_TESTS),
    mutant("redemption_pays_a_frozen_holder", REDEMPTION,
           'held = is_held_payee(ctx, payee, symbol) or is_held(ctx, payee, "withdrawals")',
           'held = is_held(ctx, payee, "withdrawals")', REDEMPTION_TESTS),
    mutant("redemption_pays_a_withdrawals_held_holder", REDEMPTION,
           'held = is_held_payee(ctx, payee, symbol) or is_held(ctx, payee, "withdrawals")',
           "held = is_held_payee(ctx, payee, symbol)", OFFERING_TESTS, REDEMPTION_TESTS),
    mutant("redemption_does_not_pause_the_token", "chaincode/token.py",
           '        if record_height is not None and not token["paused"]:\n'
           '            token["paused"] = True',
           '        if False:\n            token["paused"] = True', REDEMPTION_TESTS),
    mutant("redemption_lets_the_issuer_issue", "chaincode/token.py",
           '        if token["redemption"] is not None:\n'
           '            raise ChaincodeError("TOKEN_REDEEMED", f"{symbol} is being redeemed '
           '(redemption "',
           '        if False:\n'
           '            raise ChaincodeError("TOKEN_REDEEMED", f"{symbol} is being redeemed '
           '(redemption "', REDEMPTION_TESTS),
]


MUTANTS += [
    # ---- audit: the regulator's supply reconciliation and holdings -------------------------
    mutant("supply_always_reconciles", AUDIT_ROUTES, '"reconciles": all(checks.values())',
           '"reconciles": True', AUDIT + "::test_supply_route_says_it_does_not_reconcile_when"
           "_the_counters_disagree"),
    mutant("supply_skips_the_sum_of_balances", AUDIT_ROUTES,
           'balances == token["outstanding"],', "True,", AUDIT + "::test_supply_route_says_it_"
           "does_not_reconcile_when_the_counters_disagree"),
    mutant("supply_skips_the_holders_counter", AUDIT_ROUTES,
           'holders == token["holders"],', "True,", AUDIT + "::test_supply_route_says_it_"
           "does_not_reconcile_when_the_counters_disagree"),
    mutant("supply_skips_issued_minus_redeemed", AUDIT_ROUTES,
           'token["outstanding"] == token["issued"] - token["redeemed"],', "True,",
           AUDIT + "::test_supply_route_says_it_does_not_reconcile_when_the_counters_disagree"),
    mutant("supply_skips_the_cap", AUDIT_ROUTES,
           'token["issued"] + token["reserved"] <= (token["cap"] or 0),', "True,",
           AUDIT + "::test_supply_route_says_it_does_not_reconcile_when_the_counters_disagree"),
    mutant("holdings_cash_row_reports_no_balance", AUDIT_ROUTES,
           '"balance": cash["balance"], "frozen": 0,', '"balance": 0, "frozen": 0,',
           AUDIT + "::test_holdings_csv"),
    mutant("registrar_reads_regulator_only_routes", AUDIT_ROUTES,
           'REGULATOR_ONLY = frozenset({"regulator"})',
           'REGULATOR_ONLY = frozenset({"regulator", "registrar"})',
           AUDIT + "::test_who_may_read_what"),
]


_BITES = CHECKER_BITES + "::"
MUTANTS += [
    # ---- the simulator's checker: each kind of violation -----------------------------------
    mutant("checker_double_vote_off", CHECKER, "elif known != digest:", "elif False:",
           _BITES + "test_a_double_vote_is_caught"),
    mutant("checker_supply_sum_off", CHECKER, "if balances != supply:", "if False:",
           _BITES + "test_balances_that_do_not_add_up_to_the_supply_are_caught"),
    mutant("checker_supply_receipts_off", CHECKER, "if supply != record.minted:", "if False:",
           _BITES + "test_a_supply_the_receipts_do_not_explain_is_caught"),
    mutant("checker_persist_before_send_off", CHECKER,
           '        if node in self.honest:\n            self.fail(time_ms, "persist_before',
           '        if False:\n            self.fail(time_ms, "persist_before',
           _BITES + "test_a_vote_sent_before_it_is_persisted_is_caught"),
    mutant("checker_certificate_off", CHECKER, "            if problem is not None:",
           "            if False:",
           _BITES + "test_a_block_applied_without_a_quorum_certificate_is_caught"),
    mutant("checker_tx_twice_off", CHECKER, "            if earlier is not None:",
           "            if False:", _BITES + "test_a_transaction_applied_twice_is_caught"),
    mutant("checker_tx_signature_off", CHECKER, "        if not signed:",
           "        if False:",
           _BITES + "test_a_transaction_without_a_valid_signature_is_caught"),
    mutant_edits("checker_agreement_off", CHECKER, [
        ("elif known[0] != block.hash:", "elif False:"),
        ("if known is not None and known[0] != block_hash:", "if False:")],
        SIMULATOR + "::test_checker_is_not_vacuous_with_a_broken_quorum"),
    mutant("checker_app_hash_off", CHECKER, "elif known[0] != applied.app_hash:",
           "elif False:", SIMULATOR + "::test_checker_is_not_vacuous_with_a_broken_quorum"),
    mutant("sim_host_persist_check_on_the_key_only", SIM_HOST,
           "        if stored is not None and sent_bytes_of(kind[meta.type], stored) == data:\n",
           "        if stored is not None:\n",
           _BITES + "test_a_vote_other_than_the_persisted_one_is_caught"),
    # ---- red team (issue 26) and admission (issue 29) ------------------------------------------
    mutant("checkpoint_never_repeated", "consensus/checkpoints.py",
           "        if top <= stable_seq or now_ms < self._resend_at:",
           "        if True:", "tests/consensus/test_redteam.py"),
    mutant("block_request_hashes_unchecked", MESSAGES,
           "        checked = tuple(_hash(h, \"hash\") for h in hashes)",
           "        checked = tuple(hashes)", "tests/consensus/test_redteam.py"),
    mutant("broker_share_as_an_accounts", "node/admission/mempool.py",
           "        return max(self.sender_share(cap), self.local_bound(cap) // 2)",
           "        return self.sender_share(cap)", "tests/node/test_mempool.py"),
    mutant("sim_liveness_needs_no_node", SIM_RUN, "        live = not stuck",
           "        live = True",
           _BITES + "test_a_run_where_nothing_commits_fails_liveness_not_safety"),
]


# ==== the market (chaincode/market*.py) =========================================================
# Each is killed by an example ("desk") test named here, never left to the property streams'
# random seeds. Surveillance's mutants are a block of their own.
MARKET = "chaincode/market.py"
MARKET_MATCHING = "chaincode/market_matching.py"
MARKET_BOOK = "chaincode/market_book.py"
MARKET_SESSIONS = "chaincode/market_sessions.py"
TOKEN_CODE = "chaincode/token.py"
_RULES = "tests/chaincode/test_market_rules.py::"
_DESK = "tests/chaincode/test_market.py::"

MUTANTS += [
    # ---- what may no longer trade -------------------------------------------------------------
    mutant("market_band_not_checked_at_fills", MARKET_MATCHING,
           'if not is_in_band(m.band, resting["price"]):', "if False:",
           _RULES + "test_a_resting_order_below_todays_band_is_cancelled_not_traded"),
    mutant("market_band_checked_on_the_aggressors_price", MARKET_MATCHING,
           'if not is_in_band(m.band, resting["price"]):',
           'if not is_in_band(m.band, aggressor["price"]):',
           _RULES + "test_a_resting_order_below_todays_band_is_cancelled_not_traded"),
    mutant("market_revoked_brokers_orders_trade", MARKET_MATCHING,
           'if not m.is_active_broker(ctx, resting["broker"]):', "if False:",
           _RULES + "test_a_revoked_brokers_resting_orders_no_longer_trade"),
    mutant("market_self_trade_allowed", MARKET_MATCHING,
           'if resting["account"] == aggressor["account"]:', "if False:",
           _DESK + "test_self_trade_cancels_the_resting_order"),
    mutant("market_uncross_takes_the_older_order_as_aggressor", MARKET_MATCHING,
           'if buy["order_id"] > sell["order_id"] else', 'if buy["order_id"] < sell["order_id"] '
           "else", _RULES + "test_self_trade_while_uncrossing_cancels_the_older_order"),
    # ---- the party a refused fill blames (compliance) -------------------------------------------
    mutant("market_aml_blames_the_buyer", COMPLIANCE, "_blame(_check_aml(sender), SENDER)",
           "_blame(_check_aml(sender), RECIPIENT)",
           _RULES + "test_an_aml_high_seller_is_the_one_cancelled"),
    mutant("market_lockup_blames_the_buyer", COMPLIANCE,
           "_blame(_check_lockup(sender_holding, amount, now), SENDER)",
           "_blame(_check_lockup(sender_holding, amount, now), RECIPIENT)",
           _RULES + "test_lockup_at_a_fill_cancels_the_seller"),
    mutant("market_refusal_cancels_the_wrong_side", MARKET_MATCHING,
           'if party is None or (aggressor["side"] == "sell") == seller_at_fault:',
           'if party is None or (aggressor["side"] == "sell") != seller_at_fault:',
           _DESK + "test_resting_buyer_refused_at_fill_is_cancelled_and_matching_goes_on"),
    # ---- settlement ---------------------------------------------------------------------------
    mutant("market_tax_rounds_up", MARKET_SESSIONS, "return value * bps // BASIS_POINTS",
           "return -(-value * bps // BASIS_POINTS)",
           _RULES + "test_the_tax_is_rounded_down_to_the_won"),
    mutant("market_tax_rounds_to_the_nearest_won", MARKET_SESSIONS,
           "return value * bps // BASIS_POINTS",
           "return (value * bps + BASIS_POINTS // 2) // BASIS_POINTS",
           _RULES + "test_the_tax_is_rounded_down_to_the_won"),
    mutant("market_fills_at_the_aggressors_price", MARKET_MATCHING,
           '    price = resting["price"]\n    trade_id', '    price = aggressor["price"]\n'
           "    trade_id", _DESK + "test_price_time_priority_and_refund_below_limit"),
    mutant("market_no_refund_below_the_limit", MARKET_MATCHING,
           'refund=qty * (buy["price"] - price) if escrowed else 0', "refund=0",
           _RULES + "test_a_resting_buy_uncrossed_below_its_limit_gets_the_difference_back"),
    # ---- the book -----------------------------------------------------------------------------
    mutant("market_bids_worst_first", MARKET_BOOK,
           "BID_KEY_BASE - price if side == 'buy' else price", "price",
           _DESK + "test_sell_aggressor_hits_best_bid_first"),
    mutant("market_head_stays_on_a_departed_order", MARKET_BOOK,
           "ctx.state.put(head, [following[0], count - 1])",
           "ctx.state.put(head, [best, count - 1])",
           _DESK + "test_price_time_priority_and_refund_below_limit"),
    mutant("market_ioc_cut_short_by_stale_orders_says_unfilled", MARKET,
           '"CANCEL_LIMIT" if stop is Stop.CANCEL_LIMIT', '"IOC_UNFILLED" if stop is '
           "Stop.CANCEL_LIMIT", _RULES + "test_an_ioc_cut_short_by_the_cancel_bound_says_so"),
    # ---- a forced transfer of units on order ----------------------------------------------------
    mutant("market_forced_transfer_leaves_sell_orders", TOKEN_CODE, "if naked > 0:",
           "if False:", _RULES + "test_forced_transfer_of_units_on_order_cancels_the_sell_"
           "orders_in_the_same_transaction"),
    mutant("market_forced_transfer_cancels_the_oldest_first", MARKET,
           "for key, order_symbol in reversed(resting):", "for key, order_symbol in resting:",
           _RULES + "test_forced_transfer_cancels_only_the_newest_orders_it_must"),
    # ---- the close of a session -----------------------------------------------------------------
    mutant("market_no_expiry_at_the_close", MARKET, "            if session == current:",
           "            if True:",
           _RULES + "test_orders_of_a_closed_session_release_their_escrow_at_the_close"),
    mutant("market_expired_at_the_blocks_time", MARKET,
           'book.cancel(ctx, self._indexed(ctx, order_id), "EXPIRED", close_ms)',
           'book.cancel(ctx, self._indexed(ctx, order_id), "EXPIRED")',
           _RULES + "test_orders_of_a_closed_session_release_their_escrow_at_the_close"),
    mutant("market_expiry_over_its_bound", MARKET,
           "_first(ctx.state.range(prefix), budget)",
           "_first(ctx.state.range(prefix), budget + 1)",
           _RULES + "test_expiry_at_the_close_is_bounded_per_block"),
]


MUTANTS += [mutant(name, path, old, new, *tests)  # S1-S14, alert ids, severities, versions
            for name, path, old, new, *tests in SURVEILLANCE_MUTANTS]


# ---- running ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    mutant: Mutant
    status: str  # killed, SURVIVED, STALE, ERROR
    seconds: float
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "killed"


def copy_tree(into: Path) -> Path:
    target = into / "repo"
    shutil.copytree(ROOT, target, ignore=COPY_IGNORE)
    return target


def run_tests(repo: Path, tests: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(repo))
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               "-m", "not slow", *tests]
    return subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S, check=False)


def apply(repo: Path, m: Mutant) -> str | None:
    """Apply `m` inside `repo`; the reason it cannot be applied, or None."""
    path = next((repo / p for p in m.paths if (repo / p).exists()), None)
    if path is None:
        return f"none of {', '.join(m.paths)} exists"
    text = path.read_text()
    for old, new in m.edits:
        found = text.count(old)
        if found != 1:
            first = old.strip().splitlines()[0][:60]
            return f"{path.relative_to(repo)}: {first!r} occurs {found} times, expected once"
        text = text.replace(old, new)
    path.write_text(text)
    return None


def last_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run_mutant(m: Mutant) -> Outcome:
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="stoledger-mutant-") as tmp:
        repo = copy_tree(Path(tmp))
        problem = apply(repo, m)
        if problem is not None:
            return Outcome(m, "STALE", time.monotonic() - start, problem)
        try:
            result = run_tests(repo, m.tests)
        except subprocess.TimeoutExpired:
            return Outcome(m, "ERROR", time.monotonic() - start, f"timed out ({TIMEOUT_S} s)")
    seconds = time.monotonic() - start
    summary = last_line(result.stdout)
    if result.returncode == 1:
        return Outcome(m, "killed", seconds, summary)
    if result.returncode == 0:
        return Outcome(m, "SURVIVED", seconds, summary)
    return Outcome(m, "ERROR", seconds, f"pytest exit {result.returncode}: {summary}")


def check_baseline(tests: list[str]) -> None:
    """The chosen tests pass on an unmutated copy, importing the copy's packages."""
    with tempfile.TemporaryDirectory(prefix="stoledger-mutant-") as tmp:
        repo = copy_tree(Path(tmp))
        probe = subprocess.run(
            [sys.executable, "-c", f"import {', '.join(PACKAGES)}; "
             f"print(' '.join(m.__file__ for m in ({', '.join(PACKAGES)},)))"],
            cwd=repo, env=dict(os.environ, PYTHONPATH=str(repo)), capture_output=True,
            text=True, check=True)
        if not all(path.startswith(str(repo)) for path in probe.stdout.split()):
            sys.exit(f"the copy does not import its own packages: {probe.stdout.strip()}")
        result = run_tests(repo, tuple(tests))
        if result.returncode != 0:
            sys.exit(f"baseline: the tests fail without any mutant:\n{result.stdout[-3000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("-k", metavar="NAME", help="only mutants whose name contains NAME")
    parser.add_argument("--workers", type=int, default=WORKERS, help="mutants run at once")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the run of the chosen tests without any mutant")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if args.k is None or args.k in m.name]
    names = [m.name for m in MUTANTS]
    assert len(set(names)) == len(names), "mutant names are unique"
    if args.list:
        for m in chosen:
            path = next((p for p in m.paths if (ROOT / p).exists()), " or ".join(m.paths))
            print(f"{m.name}\n    {path}\n    tests: {' '.join(m.tests)}")
        print(f"{len(chosen)} mutants")
        return 0
    if not chosen:
        print(f"no mutant name contains {args.k!r}")
        return 2
    start = time.monotonic()
    if not args.no_baseline:
        check_baseline(sorted({test for m in chosen for test in m.tests}))
        print(f"baseline: the tests pass without mutants ({time.monotonic() - start:.0f} s)")
    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(max_workers=max(1, args.workers)) as pool:
        for outcome in pool.map(run_mutant, chosen):
            outcomes.append(outcome)
            print(f"{outcome.status:8} {outcome.mutant.name} ({outcome.seconds:.0f} s)"
                  + ("" if outcome.passed else f"\n         {outcome.detail}"), flush=True)
    passed = sum(outcome.passed for outcome in outcomes)
    print(f"total {time.monotonic() - start:.0f} s")
    print(f"{passed} passed, {len(outcomes) - passed} failed")
    return 0 if passed == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
