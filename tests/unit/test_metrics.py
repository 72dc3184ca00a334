"""adapters/metrics.py: bounded operation labels, and several processes' samples in
multiprocess mode (real processes writing to a real directory)."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from adapters.metrics import ANONYMOUS, OTHER, OperationLabels, Reading, exposition

ROOT = Path(__file__).resolve().parents[2]


def test_operation_labels_are_bounded_identifiers():
    labels = OperationLabels(max_names=3, max_length=10)
    assert labels.label(None) == labels.label("") == ANONYMOUS
    assert labels.label("PlaceBid") == "PlaceBid"
    assert labels.label("x" * 11) == OTHER
    for odd in ("a b", "naïve", "a-b", "1abc", "a\nb", "é", 7, ["x"], {"a": 1}, True):
        assert labels.label(odd) == OTHER, odd
    assert labels.label("Two") == "Two"
    assert labels.label("Three") == "Three"
    assert labels.label("Four") == OTHER  # the cap: first come, kept
    assert labels.label("PlaceBid") == "PlaceBid"
    assert labels.names == {"PlaceBid", "Two", "Three"}


def test_operation_histograms_are_bound_once_per_label_pair():
    labels = OperationLabels(max_names=2)
    first = labels.histogram("Browse", "query")
    assert labels.histogram("Browse", "query") is first
    labels.histogram("Browse", "nonsense")
    for i in range(50):
        labels.histogram(f"Random{i}", "query")
    assert set(labels.children) == {
        ("Browse", "query"),
        ("Browse", "unknown"),
        ("Random0", "query"),
        (OTHER, "query"),
    }


WORKER = """
import sys
from adapters import metrics
metrics.BIDS_ACCEPTED.inc(int(sys.argv[1]))
metrics.WEBSOCKETS_OPEN.inc(int(sys.argv[1]))
print("ready", flush=True)
sys.stdin.read()  # serves until told to stop
"""


def _samples(text: bytes) -> dict[str, float]:
    return {
        s.name: s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
        if not s.labels
    }


def test_multiprocess_mode_adds_up_every_process_and_forgets_exited_ones(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(n)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in (2, 5)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline() == "ready\n"
        both = _samples(exposition(directory=str(tmp_path)))
        assert both["gavel_bids_accepted_total"] == 7
        assert both["gavel_websockets_open"] == 7
        workers[1].communicate("", timeout=20)  # exits: its sockets are gone, bids stay
        one = _samples(exposition(directory=str(tmp_path)))
        assert one["gavel_bids_accepted_total"] == 7
        assert one["gavel_websockets_open"] == 2
    finally:
        for worker in workers:
            worker.kill()
            worker.communicate()


def test_scrape_time_readings_follow_the_process_metrics():
    text = exposition([Reading("gavel_test_reading", "A test reading.", 4.5)])
    assert _samples(text)["gavel_test_reading"] == 4.5


def _spawned_worker(n: int) -> None:
    from adapters import metrics

    metrics.BIDS_ACCEPTED.inc(n)
    metrics.WEBSOCKETS_OPEN.inc(n)


def test_a_uvicorn_style_worker_forgets_its_open_connections_when_it_exits(tmp_path, monkeypatch):
    """uvicorn's workers are spawned multiprocessing children: an exited one's live gauges
    leave the sum, its counts stay."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    worker = multiprocessing.get_context("spawn").Process(target=_spawned_worker, args=(3,))
    worker.start()
    worker.join(60)
    assert worker.exitcode == 0
    samples = _samples(exposition(directory=str(tmp_path)))
    assert samples["gavel_bids_accepted_total"] == 3
    assert samples.get("gavel_websockets_open", 0.0) == 0.0
