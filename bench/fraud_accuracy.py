"""Precision and recall of the fraud rules on the synthetic lab (docs/fraud.md).

    .venv/bin/python -m bench.fraud_accuracy

Prints the confusion matrices at the hold and flag thresholds of the current settings
(GAVEL_FRAUD_*), for the default and the hard lab (ten seeds pooled each), and writes
the same text to bench/results/fraud_accuracy.md (git-ignored).
tests/unit/test_fraud_accuracy.py writes the same report with the default policy and
asserts the floors.
"""

from __future__ import annotations

from pathlib import Path

from domain.fraud.accuracy import accuracy
from settings import Settings

OUT = Path(__file__).resolve().parent / "results" / "fraud_accuracy.md"


def main() -> None:
    text = accuracy(Settings().fraud_policy).report()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(text)
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
