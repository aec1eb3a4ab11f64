"""What reconciler.yaml costs `validate`: the same files without a config and with the documented one
(docs/reconciler.example.yaml: the allow-list, five CEL policies, shared defaults), side by side in one run.

    .venv/bin/python benchmarks/bench_guardrails.py [--sizes 10 1000 10000] [--repeat 5]

No endpoint: validate makes no AWS call. Each size's files are realistic (both result configurations,
logging, an account), half of them under `partners/` so the defaults match. Runs alternate; medians shown.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

from common import measured

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "docs" / "reconciler.example.yaml"
FILE = """\
membershipIdentifier: {mid}
region: us-east-1
accountId: "111122223333"
queryLogStatus: ENABLED
jobLogStatus: ENABLED
defaultResultConfiguration:
  roleArn: arn:aws:iam::111122223333:role/CleanRoomsQueryResults
  outputConfiguration:
    s3: {{resultFormat: PARQUET, bucket: acme-cleanrooms-results, keyPrefix: q{i}/}}
defaultJobResultConfiguration:
  roleArn: arn:aws:iam::111122223333:role/CleanRoomsJobResults
  outputConfiguration:
    s3: {{bucket: acme-cleanrooms-results, keyPrefix: j{i}/}}
"""


def write_files(directory: Path, count: int) -> None:
    for i in range(count):
        where = directory / ("partners" if i % 2 else "own")
        where.mkdir(parents=True, exist_ok=True)
        (where / f"m{i:05d}.yaml").write_text(FILE.format(mid=uuid.UUID(int=i + 1), i=i))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1000, 10000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RECONCILER_"))}
    reconciler = [sys.executable, "-m", "reconciler"]
    print("| files | `validate`, no config | with the documented reconciler.yaml | ratio | added per file |")
    print("|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            write_files(Path(tmp), size)
            plain: list[float] = []
            guarded: list[float] = []
            for _ in range(args.repeat):
                # No --config, and no reconciler.yaml where this runs (the repository root has none).
                seconds, _rss, out = measured([*reconciler, "validate", tmp], env)
                assert f"{size} membership file(s) valid" in out, out
                plain.append(seconds)
                seconds, _rss, out = measured([*reconciler, "--config", str(EXAMPLE), "validate", tmp], env)
                assert f"{size} membership file(s) valid" in out, out
                guarded.append(seconds)
        a, b = statistics.median(plain), statistics.median(guarded)
        print(f"| {size} | {a:.3f} s | {b:.3f} s | {b / a:.2f}x | {(b - a) * 1000 / size:.2f} ms |")


if __name__ == "__main__":
    main()
