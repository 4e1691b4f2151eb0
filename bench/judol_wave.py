"""Issue 14's check with the shipped model: a 500-comment judol wave and ordinary comments through ``assess``
under the built-in policy (no server, no store): how many are rejected outright, held, published.

    python bench/judol_wave.py [--models-dir models]

The texts are the generators of tests/test_outcomes.py (the wave the API test replays with a tiny model).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from moderation.domain import Submission  # noqa: E402
from moderation.pipeline.scoring import Scorer  # noqa: E402
from moderation.policy import Policy  # noqa: E402
from moderation.services import assess  # noqa: E402
from tests.conftest import HAM, TOXIC  # noqa: E402
from tests.test_outcomes import judol, ordinary  # noqa: E402


async def decide_all(models_dir: Path, texts: list[str]) -> list[str]:
    with ThreadPoolExecutor(1) as executor:
        scorer = Scorer(models_dir, executor)
        scorer.load()
        out = []
        for text in texts:
            sub = Submission(article_id="a", author_name="n", author_email="n@example.invalid", content=text)
            out.append((await assess(scorer, sub, Policy(), now=datetime.now(UTC))).verdict.decision.value)
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    args = parser.parse_args()
    rng = random.Random(7)
    wave = [judol(rng, i) for i in range(500)]
    others = [ordinary(rng, i) for i in range(60)] + TOXIC + HAM
    decisions = asyncio.run(decide_all(args.models_dir, wave + others))
    print("wave (500):", dict(Counter(decisions[:500])))
    print(f"ordinary, toxic and ham ({len(others)}):", dict(Counter(decisions[500:])))


if __name__ == "__main__":
    main()
