"""Write ``examples/reviews.csv``: short restaurant reviews and whether they are positive.

The example file of the README's "I have a CSV" section: 2,000 rows, a ``review`` column
(5–23 words) and a ``label`` column (``positive`` or ``negative``). A review's sentiment is
the sum over its 1–3 sentiment words (+1 for good, great …, −1 for bad, cold …), placed
among filler words; ties are drawn again. Deterministic: ``python
examples/make_reviews.py`` rewrites the same file.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

POSITIVE = ("good", "great", "tasty", "friendly", "fresh", "lovely")
NEGATIVE = ("bad", "cold", "rude", "stale", "slow", "awful")
FILLER = ("the", "food", "was", "service", "and", "staff", "very", "place", "a", "we",
          "ordered", "pizza", "table", "but", "it", "soup", "waiter", "our", "really")


def review(rng: random.Random) -> tuple[str, str]:
    """One review of 5–23 words with 1–3 sentiment words (a tie is drawn again)."""
    while True:
        pieces = [rng.choice(FILLER) for _ in range(rng.randint(4, 20))]
        score = 0
        for _ in range(rng.randint(1, 3)):
            word = rng.choice(POSITIVE + NEGATIVE)
            sign = 1 if word in POSITIVE else -1
            pieces.insert(rng.randint(0, len(pieces)), word)
            score += sign
        if score:
            return " ".join(pieces), "positive" if score > 0 else "negative"


def main(path: Path = Path(__file__).with_name("reviews.csv"), rows: int = 2000) -> None:
    rng = random.Random(0)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["review", "label"])
        for _ in range(rows):
            w.writerow(review(rng))


if __name__ == "__main__":
    main()
