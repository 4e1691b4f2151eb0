"""Input-boundary benchmark: parsing and checking a body costs linear time, even for hostile bodies.

    python bench/bench_input_boundary.py [--repeat 20]

Times ``parse_json`` (strict JSON + depth bound) and ``text_problem`` (the character check) on bodies of up
to the default 256 KiB limit: an ordinary long comment, JSON nested 100,000 deep, unterminated strings full of
escaped quotes (quadratic for a naive regex scanner), and a comment of 65,525 bytes. Prints the median in ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moderation.errors import BadRequest
from moderation.validation import MAX_CONTENT_BYTES, parse_json, text_problem

LIMIT = 256 * 1024


def bodies() -> dict[str, bytes]:
    comment = ("Semoga banjir cepat surut dan warga bisa kembali ke rumah. " * 5000)[: LIMIT - 200]
    return {
        "ordinary 256 KiB comment": json.dumps({"content": comment, "author_name": "Budi"}).encode(),
        "nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
        "unterminated escaped quotes": b'{"a": "' + b'a\\"' * (LIMIT // 3 - 10),
        "many small arrays": json.dumps({"x": [[1, 2], [3, {"a": "b"}]] * 8000})[:LIMIT].encode(),
    }


def median_ms(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    for name, body in bodies().items():
        def run(body: bytes = body) -> None:
            try:
                parse_json(body)
            except BadRequest:
                pass

        print(f"parse_json  {name:32} {len(body):>7} B  {median_ms(run, args.repeat):8.2f} ms")
    text = ("Semoga banjir cepat surut.\n" * 3000)[:MAX_CONTENT_BYTES]
    print(f"text_problem {'65,525-byte comment':31} {len(text):>7} B  "
          f"{median_ms(lambda: text_problem(text, multiline=True), args.repeat):8.2f} ms")


if __name__ == "__main__":
    main()
