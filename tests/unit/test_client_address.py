"""Which address rate limits count: the peer, or X-Forwarded-For behind trusted proxies."""

from __future__ import annotations

from adapters.client_address import client_ip, limit_key, parse_networks


def scope(peer: str, forwarded: str | None = None) -> dict[str, object]:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"client": (peer, 5000), "headers": headers}


def test_the_peer_by_default_even_with_a_forwarded_header():
    assert client_ip(scope("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_an_untrusted_peer_cannot_name_another_client():
    proxies = parse_networks("10.0.0.0/8")
    assert client_ip(scope("203.0.113.9", "198.51.100.1"), proxies) == "203.0.113.9"


def test_behind_trusted_proxies_the_rightmost_untrusted_hop():
    proxies = parse_networks("10.0.0.0/8, ::1")
    # the client forged the left entry; the first proxy appended what it saw
    forwarded = "1.2.3.4, 198.51.100.7, 10.0.0.2"
    assert client_ip(scope("10.0.0.1", forwarded), proxies) == "198.51.100.7"
    assert client_ip(scope("::1", "198.51.100.8"), proxies) == "198.51.100.8"


def test_no_peer_no_address():
    assert client_ip({"headers": []}) is None


def test_ipv6_clients_count_by_their_64():
    assert limit_key("2001:db8:1:2:aaaa::1") == limit_key("2001:db8:1:2:bbbb::9")
    assert limit_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert limit_key("2001:db8:1:3::1") != limit_key("2001:db8:1:2::1")
    assert limit_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert limit_key("192.0.2.7") == "192.0.2.7"
