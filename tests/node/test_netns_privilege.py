"""Whether this process may make network namespaces, read from its capabilities: root in a
container without CAP_NET_ADMIN is told so before any `ip` command runs."""

from __future__ import annotations

import pytest

from node.tools.netns import NetnsError, has_net_admin

STATUS = "Name:\tpython\nUmask:\t0022\nCapInh:\t0000000000000000\nCapPrm:\t{0}\nCapEff:\t{0}\n"


@pytest.mark.parametrize(("cap_eff", "expected"), [
    ("000001ffffffffff", True),   # root on a host, or a --privileged container
    ("00000000a80435fb", True),   # docker's default set plus --cap-add NET_ADMIN
    ("00000000a80425fb", False),  # docker's default set: root without CAP_NET_ADMIN
    ("0000000000000000", False),  # every capability dropped
])
def test_net_admin_is_read_from_the_effective_capabilities(cap_eff: str, expected: bool) -> None:
    assert has_net_admin(STATUS.format(cap_eff)) is expected


def test_a_status_without_capabilities_is_an_error_not_a_guess() -> None:
    with pytest.raises(NetnsError, match="CapEff"):
        has_net_admin("Name:\tpython\n")
