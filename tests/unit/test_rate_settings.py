"""Rate settings are checked when read: a typo fails start-up, not the first bid."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from adapters.rate_limits import Rate
from settings import Settings


@pytest.mark.parametrize("text", ["fast", "10", "0/60", "10/0", "-1/5", "10/minute", "1e3/1"])
def test_a_malformed_rate_is_refused(text):
    with pytest.raises(ValidationError):
        Settings(GAVEL_RATE_BID_USER=text)


def test_a_rate_reads_count_and_seconds():
    assert Rate.parse(" 10 / 60 ") == Rate(10, 60.0)
    assert Rate.parse("3/0.5") == Rate(3, 0.5)
    assert Settings(GAVEL_RATE_LOGIN_IP="5/300").rate_login_ip == "5/300"
