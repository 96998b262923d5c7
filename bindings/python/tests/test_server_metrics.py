"""`tinystore serve`'s operations surface: `GET /metrics` parsed by the Prometheus client
library's OpenMetrics parser (the format a scraper reads), with the counters moving as clients
write; and `--log-format json --log-level info`: one JSON line per connection opened or closed,
with its room and client id, and never a cell value."""

import json
import urllib.error
import urllib.request

from prometheus_client.openmetrics.parser import text_string_to_metric_families

import tinystore
from conftest import Server, _tinystore_bin, wait_until


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):  # raises on invalid exposition text
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_are_valid_openmetrics_and_move_and_logs_are_json(tmp_path):
    server = Server([str(_tinystore_bin()), "serve", "--port", "0", "--db", str(tmp_path / "rooms.sqlite"),
                     "--save-interval-ms", "0", "--log-format", "json", "--log-level", "info"])
    try:
        before = scrape(server.port)
        assert value(before, "tinystore_clients") == 0
        a, b = tinystore.create_mergeable_store(), tinystore.create_mergeable_store()
        with tinystore.create_ws_synchronizer(a, server.url("shop")) as sa, \
                tinystore.create_ws_synchronizer(b, server.url("shop")) as sb:
            sa.start_sync()
            sb.start_sync()
            a.set_cell("pets", "fido", "secret", "s3cr3t-cell-value")
            wait_until(lambda: b.get_cell("pets", "fido", "secret") == "s3cr3t-cell-value")
            wait_until(lambda: value(scrape(server.port), "tinystore_room_saves_total") >= 1)
            during = scrape(server.port)
            assert value(during, "tinystore_rooms") == 1
            assert value(during, "tinystore_clients") == 2
            assert value(during, "tinystore_connections_opened_total") == 2
            diffs_in = value(during, "tinystore_messages_total", direction="in", type="ContentDiff")
            assert diffs_in >= 1
            assert value(during, "tinystore_message_bytes_total", direction="in", type="ContentDiff") > 0
            assert value(during, "tinystore_messages_total", direction="out", type="ContentDiff") >= 1
            assert value(during, "tinystore_relay_fanout_seconds_count") >= diffs_in
            assert value(during, "tinystore_room_save_failures_total") == 0

            b.set_cell("pets", "rex", "species", "wolf")
            wait_until(lambda: a.get_cell("pets", "rex", "species") == "wolf")
            wait_until(lambda: value(scrape(server.port), "tinystore_messages_total",
                                     direction="in", type="ContentDiff") > diffs_in)
            after = scrape(server.port)
            assert value(after, "tinystore_room_saves_total") >= value(during, "tinystore_room_saves_total")
            assert value(after, "tinystore_relay_fanout_seconds_count") > value(during, "tinystore_relay_fanout_seconds_count")
        wait_until(lambda: value(scrape(server.port), "tinystore_connections_closed_total") == 2)
        assert value(scrape(server.port), "tinystore_clients") == 0
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.proc.stderr.read().splitlines() if line.strip()]
    opened = [l for l in lines if l["fields"].get("message") == "connection open"]
    closed = [l for l in lines if l["fields"].get("message") == "connection closed"]
    assert len(opened) == 2 and len(closed) == 2
    assert all(l["fields"]["room"] == "shop" and l["fields"]["client_id"] for l in opened + closed)
    assert all(l["level"] in ("INFO", "WARN", "ERROR", "DEBUG", "TRACE") for l in lines)
    assert not any("s3cr3t-cell-value" in json.dumps(l) for l in lines)


def test_metrics_count_auth_rejections_and_need_a_stats_token(tmp_path):
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps({"tokens": {"ops": {"rooms": [], "stats": True}}}))
    server = Server([str(_tinystore_bin()), "serve", "--port", "0", "--relay-only", "--auth-tokens", str(tokens)])
    try:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=10)
            raise AssertionError("/metrics answered without a token")
        except urllib.error.HTTPError as e:
            assert e.code == 401
        request = urllib.request.Request(f"http://127.0.0.1:{server.port}/metrics",
                                         headers={"Authorization": "Bearer ops"})
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        rejected = {tuple(s.labels.items()): s.value for s in families["tinystore_auth_rejections"].samples}
        assert rejected[(("purpose", "stats"),)] == 1
    finally:
        server.stop()
