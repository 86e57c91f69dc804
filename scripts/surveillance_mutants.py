"""Hand-written mutants of the surveillance rules (issue 30, "Mutants"): for each rule S1-S14
a threshold, window, side or grouping broken by one edit, and the alert id and severities,
each with the desk tests that must kill it (tests/node/test_surveillance*.py: a desk test on a
hand-built chain, never a generator seed's luck). scripts/mutants.py runs them with the rest
(`make mutants`, `python scripts/mutants.py -k surveillance`).

Each entry is (name, path, exact text occurring once, replacement, tests...).
"""

from __future__ import annotations

TRADING = "node/surveillance/rules/trading.py"
PRICE = "node/surveillance/rules/price.py"
SHARE = "node/surveillance/rules/share.py"
OWNERS = "node/surveillance/owners.py"
EPISODES = "node/surveillance/episodes.py"
PENDING = "node/surveillance/pending.py"
RULES = "node/surveillance/rules/__init__.py"
DESK = "tests/node/test_surveillance.py::"
EVASIONS = "tests/node/test_surveillance_evasions.py::"
OWNED = "tests/node/test_surveillance_owners.py::"
CAPS = "tests/node/test_surveillance_caps.py::"
COST = "tests/node/test_surveillance_cost.py::"
PART_C = "tests/node/test_surveillance_part_c.py::"
SHAPES = "tests/node/test_surveillance_shapes.py::"

SURVEILLANCE_MUTANTS: list[tuple[str, ...]] = [
    ("surveillance_s1_owner_trades_need_one_side_only", "node/surveillance/trades.py",
     "if t.trade_id > after and t.buyer in members and t.seller in members]",
     "if t.trade_id > after and t.buyer in members]",
     DESK + "test_s1_wash_trade_between_accounts_linked_by_an_origin",
     EVASIONS + "test_s1_links_are_transitive"),
    ("surveillance_s1_origin_links_forget_after_an_hour", OWNERS,
     "        if ORIGIN in kinds:\n            since = now - self.params.link_window_ms",
     "        if ORIGIN in kinds:\n            since = now - 3_600_000",
     EVASIONS + "test_s1_links_a_device_shared_25_hours_apart"),
    ("surveillance_s2_sizes_must_match_exactly", TRADING,
     "abs(bought - sold) * BPS <= tolerance * big", "bought == sold",
     EVASIONS + "test_s2_sizes_off_by_one"),
    ("surveillance_s2_pairs_only", TRADING,
     "if len(members) < 2 or len(trades) < p[\"min_matched\"]:",
     "if len(members) != 2 or len(trades) < p[\"min_matched\"]:",
     EVASIONS + "test_s2_a_ring_of_three"),
    ("surveillance_s2_match_window_five_seconds", TRADING,
     "abs(buy.time - sell.time) > p[\"match_ms\"]", "abs(buy.time - sell.time) > 5_000",
     EVASIONS + "test_s2_orders_six_seconds_apart"),
    ("surveillance_s2_order_by_order", TRADING,
     "        matched = [q[0] for pair in pairs.values() for q in pair if is_matched(p, q, pair)]",
     "        matched = [q[0] for pair in pairs.values() for q in pair if is_matched(p, q, [q])]",
     SHAPES + "test_s2_an_offer_taken_by_four_bids_of_a_quarter"),
    ("surveillance_s2_an_ioc_shows_all_it_asked", TRADING,
     "return order.filled if order.tif == \"ioc\" else order.qty", "return order.qty",
     SHAPES + "test_s2_an_ioc_for_twice_the_offer_it_takes"),
    ("surveillance_s3_any_distance_from_the_best", TRADING,
     "and is_away(order, p[\"min_away_bps\"]))", ")",
     DESK + "test_s3_bids_at_the_best_price_are_not_a_layer",
     EVASIONS + "test_a_market_maker_quoting_at_the_touch_is_not_spoofing"),
    ("surveillance_s3_no_sale_after_the_layer", TRADING,
     "max(o.closed_time for o in layer) + p[\"after_ms\"]",
     "max(o.closed_time for o in layer)",
     EVASIONS + "test_s3_the_sale_one_block_after_the_layer_is_gone"),
    ("surveillance_s3_each_order_five_times_the_mean", TRADING,
     "mean > 0 and order.qty >= p[\"size_multiple\"] * mean",
     "mean > 0 and order.qty >= 5 * mean",
     SHAPES + "test_s3_a_layer_of_twelve_orders_each_under_five_times_the_mean"),
    ("surveillance_s3_any_layer_size", TRADING,
     "                or sum(o.qty for o in layer) < p[\"layer_multiple\"] * mean):", "):",
     SHAPES + "test_s3_three_ordinary_orders_withdrawn_are_no_layer"),
    ("surveillance_s4_one_lift_fewer", TRADING,
     "if len(orders) < p[\"min_upticks\"]:", "if len(orders) < p[\"min_upticks\"] - 1:",
     DESK + "test_s4_four_lifts_are_not_enough"),
    ("surveillance_s5_s14_any_move", PRICE,
     "if (move < p[\"min_move_bps\"] or share", "if (move < 0 or share",
     DESK + "test_s5_a_close_moved_less_than_min_move_is_not_marked",
     EVASIONS + "test_s5_one_order_sweeping_the_asks_before_the_close"),
    ("surveillance_s6_group_one_owner_short", SHARE,
     "if size >= 2 and together >= p[\"top_share_bps\"]",
     "if size >= 3 and together >= p[\"top_share_bps\"]",
     DESK + "test_s6_the_top_accounts_together"),
    ("surveillance_s6_no_fair_share", SHARE,
     "if (share >= p[\"account_share_bps\"] and share >= p[\"fair_multiple\"] * fair",
     "if (share >= p[\"account_share_bps\"]",
     EVASIONS + "test_s6_four_equal_traders_are_not_concentration"),
    ("surveillance_s7_dump_below_the_base", PRICE,
     "or got // sold <= base:", ":",
     DESK + "test_s7_selling_below_where_the_rise_began_is_no_dump"),
    ("surveillance_s8_lookback_a_day", SHARE,
     "    trades = before(j.trades.since(event.symbol, event.time - p[\"lookback_ms\"]), event)",
     "    trades = before(j.trades.since(event.symbol, event.time - 86_400_000), event)",
     EVASIONS + "test_s8_buying_25_hours_before_the_news"),
    ("surveillance_s8_effect_from_the_last_price_only", SHARE,
     "    return unusual_findings(p, j, event, start, last) if moved(p, start, last) else []",
     "    return []",
     EVASIONS + "test_s8_a_leak_that_moved_the_price_before_the_news"),
    ("surveillance_s8_unusual_position_high", SHARE,
     "None if insider else \"medium\")", "None)",
     DESK + "test_s8_unusual_buying_before_news_that_moved_the_price"),
    ("surveillance_s9_single_amounts_only", SHARE,
     "        if is_near(p, total) and (direction == \"out\" or not any(f.sender for f in "
     "days[day])):\n            found.append((total, days[day]))\n"
     "        elif total >= p[\"threshold\"]:\n"
     "            found += per_counterparty(p, days[day], direction)",
     "        if False:\n            pass\n        elif True:\n"
     "            found += [(f.amount, [f]) for f in days[day] if is_near(p, f.amount)]",
     EVASIONS + "test_s9_each_days_total_split_in_two"),
    ("surveillance_s1_s10_staff_media_link_clients", "node/surveillance/records.py",
     'STAFF_MEDIA = frozenset({"branch", "phone"})', "STAFF_MEDIA: frozenset[str] = frozenset()",
     EVASIONS + "test_branch_clients_on_one_terminal_are_not_one_owner"),
    ("surveillance_s11_no_price_outlier", PRICE,
     "if abs(move) >= p[\"price_bps\"]:", "if False:",
     DESK + "test_s11_a_price_far_from_its_recent_closes"),
    ("surveillance_s12_no_record_date", PRICE,
     "if len(orders) < (p[\"min_orders_event\"] if near else p[\"min_orders\"]):",
     "if len(orders) < p[\"min_orders\"]:",
     DESK + "test_s12_pegging_before_a_record_date"),
    ("surveillance_s12_level_over_the_whole_window", PRICE,
     "if passive[0].trade_id <= t.trade_id <= passive[-1].trade_id]",
     "if t.trade_id <= passive[-1].trade_id]",
     EVASIONS + "test_s12_a_level_above_where_the_price_was_and_let_go_after"),
    ("surveillance_s12_a_sale_through_the_bids_breaks_the_level", PRICE,
     "t.price < floor and t.tx_id not in swept", "t.price < floor",
     EVASIONS + "test_s12_one_sale_through_the_bids_does_not_break_the_level"),
    ("surveillance_s13_two_sided_counts", SHARE,
     "share = bps(abs(net), total)", "share = bps(qty, total)",
     EVASIONS + "test_s13_order_involvement_is_one_sided"),
    ("surveillance_s13_a_quoter_is_an_order_flood", SHARE,
     "\n                      and bps(abs(net), qty) >= p[\"otr_side_bps\"])", ")",
     EVASIONS + "test_s13_a_two_sided_quoter_with_few_fills_is_not_an_order_flood"),
    ("surveillance_s5_s14_aggressive_pushes_only", PRICE,
     "pushes = [t for t in window if is_push(t, members)]",
     "pushes = [t for t in window if is_push(t, members) and t.aggressor_account in members]",
     SHAPES + "test_s5_the_close_set_by_a_resting_bid_an_honest_seller_hit",
     SHAPES + "test_s14_the_open_set_by_a_resting_bid_an_honest_seller_hit"),
    ("surveillance_alert_id_without_the_window_start", EPISODES,
     "codec.pack([rule, symbol or \"\", list(accounts), from_time])",
     "codec.pack([rule, symbol or \"\", list(accounts)])",
     DESK + "test_s1_wash_trade_same_origin",
     DESK + "test_activity_after_the_rules_window_is_a_new_alert"),
    ("surveillance_severities_s8_s9_swapped", RULES,
     "\"S8\": \"high\", \"S9\": \"medium\"", "\"S8\": \"medium\", \"S9\": \"high\"",
     DESK + "test_s8_an_insider_trading_before_the_issuers_dividend",
     DESK + "test_s9_cash_structuring_just_under_the_reporting_threshold"),
    ("surveillance_no_new_version_on_growth", EPISODES,
     "or any(new >= 2 * old and new > old", "or any(False",
     PART_C + "test_a_token_outlier_makes_a_version_only_when_its_measure_doubles"),
    # The owner graph against links the attacker controls (issue 30, F1, F1b, F2)
    ("surveillance_owners_payees_make_a_hub", OWNERS,
     "if kind == TRANSFER and time >= since and self.paid(other, account):",
     "if kind == TRANSFER and time >= since:",
     OWNED + "test_paying_many_others_does_not_cut_the_payers_real_link"),
    ("surveillance_owners_a_hub_links_nobody", OWNERS,
     "went to one that is no hub.\"\"\"\n",
     "went to one that is no hub.\"\"\"\n        if is_hub(account) or is_hub(other):\n"
     "            return False\n",
     OWNED + "test_payers_of_one_payee_are_not_one_owner"),
    ("surveillance_owners_any_transfer_links", OWNERS,
     "and value < self.params.min_link_krw):", "and value < 1):",
     OWNED + "test_a_trivial_transfer_to_a_stranger_links_nobody"),
    ("surveillance_owners_forget_the_oldest_origin", OWNERS,
     "key=lambda o: (len(self.uses[o]) > 1, mine[o], o)", "key=lambda o: (mine[o], o)",
     OWNED + "test_orders_from_fresh_origins_do_not_push_out_a_shared_device"),
    # Caps give from the largest holder (F15, F15b) and the incremental reads (F14)
    ("surveillance_trades_smallest_token_gives", "node/surveillance/trades.py",
     "key=lambda symbol: (-len(self.by_symbol[symbol]), symbol))",
     "key=lambda symbol: (len(self.by_symbol[symbol]), symbol))",
     CAPS + "test_trading_in_another_token_keeps_a_tokens_insider_trades"),
    ("surveillance_holdings_smallest_gives", "node/surveillance/caps.py",
     "heapq.heappush(self.heap, (-count, subject))",
     "heapq.heappush(self.heap, (count, subject))",
     CAPS + "test_one_senders_flood_of_transfers_keeps_anothers_structuring",
     CAPS + "test_one_accounts_flood_of_unfilled_orders_keeps_anothers_shared_device"),
    ("surveillance_pending_one_limit_for_all_tokens", "node/surveillance/pending.py",
     "        events = self.material[event.symbol]\n        if len(events) > self.limits.pending:",
     "        events = min(self.material.values(), key=len)\n"
     "        if sum(map(len, self.material.values())) > self.limits.pending:",
     CAPS + "test_another_issuers_flood_of_dividends_leaves_a_tokens_news_waiting"),
    ("surveillance_s10_reads_every_origin", TRADING,
     "if j.orders.origin_reach(symbol, origin, since) < p[\"min_accounts\"]:",
     "if j.orders.origin_reach(symbol, origin, since) < 1:",
     COST + "test_s10_does_not_read_every_kept_order_of_an_origin_on_each_block"),
    # issue 30, red-team part C (afresh, S8 status at the trade, S9 links and the sender's act)
    ("surveillance_no_version_on_new_evidence", EPISODES,
     "\n                 or (bool(finding.accounts) and newest_height(detail) > "
     "episode.seen_height))", ")",
     PART_C + "test_every_wash_of_a_long_steady_stream_is_in_some_alert"),
    ("surveillance_versions_of_a_token_state_every_block", EPISODES,
     "(bool(finding.accounts) and newest_height", "(True and newest_height",
     PART_C + "test_a_token_outlier_makes_a_version_only_when_its_measure_doubles"),
    ("surveillance_s8_insider_status_read_at_the_event", PENDING,
     "found = {account: ended for account, ended in self.former.get(issuer, {}).items()\n"
     "                 if ended >= since}", "found = {}",
     PART_C + "test_s8_an_insider_who_resigned_after_buying_is_judged_as_one"),
    ("surveillance_s8_trades_after_resigning_are_an_insiders", SHARE,
     "event) if t.time <= ended]", "event)]",
     PART_C + "test_s8_an_insider_who_resigned_after_buying_is_judged_as_one"),
    ("surveillance_s8_a_former_insider_fills_the_index", PENDING,
     "if self.count >= self.limits.insiders and not self._drop_oldest_former():",
     "if self.count >= self.limits.insiders:",
     PART_C + "test_s8_a_former_insider_gives_way_to_a_current_one_in_a_full_index"),
    ("surveillance_s9_owners_by_origins_only", SHARE,
     "if len(linked.accounts) > len(cash.accounts):", "if False:",
     PART_C + "test_s9_withdrawals_split_over_two_accounts_linked_by_a_transfer"),
    ("surveillance_s9_no_per_recipient_totals", SHARE,
     "found += per_counterparty(p, days[day], direction)",
     "found += [(f.amount, [f]) for f in days[day] if is_near(p, f.amount)]",
     PART_C + "test_s9_per_recipient_day_totals_each_split_in_two"),
    ("surveillance_s9_rents_are_the_recipients_structuring", SHARE,
     "(direction == \"out\" or not any(f.sender for f in days[day]))", "True",
     PART_C + "test_s9_a_landlord_receiving_rents_is_not_structuring"),
    ("surveillance_s9_one_structuring_two_episodes", SHARE,
     "if not (key.startswith(\"linked/\") and is_one_cash_owner(j, finding.accounts)):",
     "if True:",
     PART_C + "test_s9_one_account_linked_by_a_transfer_is_one_alert"),
    ("surveillance_s7_every_buy_is_the_pumps", PRICE,
     "pushes = [t for t in bought_from if is_push(t)]", "pushes = bought_from",
     PART_C + "test_s7_a_small_buy_hours_before_does_not_dilute_the_pump",
     PART_C + "test_s7_an_investor_whose_bids_others_hit_while_others_lift_the_price"),
    ("surveillance_s7_only_lifted_offers_push", PRICE,
     "    return trade.price > trade.prev_price",
     "    return trade.aggressor == \"buy\" and trade.price > trade.prev_price",
     PART_C + "test_s7_a_pump_by_bids_above_the_last_that_sellers_hit"),
]


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(description=__doc__ + "\nRun alone, it lists the mutants' names.",
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    for entry in SURVEILLANCE_MUTANTS:
        print(entry[0])
