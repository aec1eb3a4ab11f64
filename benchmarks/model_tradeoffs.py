"""What the rate controller's remaining goals at 100 memberships cost elsewhere, in the tests' discrete-event
model (tests/edges/storms.py: milliseconds, no endpoint), with answers' latency varying by half either way.

    .venv/bin/python benchmarks/model_tradeoffs.py

1. A shared quota (R of 10, 4 and 50 calls/s, another client taking half) at 100 memberships, 30 draws each:
   the share of our calls refused by this controller, and by one told what is left to us at its first
   lesson (an oracle: no estimate, no test, no probe). What the oracle is refused is the calls in flight when
   the bucket's burst runs out and the lesson's own, a floor for any controller that starts unpaced; then
   that floor at R = 10 with fewer calls in flight (`--parallelism`), beside what the cap costs a plan of
   1,000 memberships at 50 ms with no throttling.
2. 60% of calls refused at random at 100 memberships (30 draws), beside a steady quota of 1 call/s (10
   draws), for first estimates of at least 1 (this controller), 2 and 3 calls/s: a first lesson from one or
   two answers cannot tell the two apart, and the slower floor spends seconds telling them apart later.
"""

from __future__ import annotations

import statistics

from reconciler.edges.aws.ratelimit import FIRST_SHARE, RateController
from tests.edges.storms import Result, Storm, at_random, quota

DRAWS = range(1, 31)
LATENCIES = (0.01, 0.02, 0.05)


class Oracle(RateController):
    """Paced at what is left to us from the first lesson on (set as `known` before the run)."""

    known: float = 0.0

    def _throttled(self, now: float) -> None:
        first = self.rate is None
        super()._throttled(now)
        if first:
            self._test = self._first = None
            self.rate = self.known * FIRST_SHARE  # as the controller paces its own first estimate


def told(storm: Storm, known: float) -> Oracle:
    oracle = Oracle(max_concurrency=storm.workers, clock=lambda: storm.now, sleep=storm._sleep)
    oracle.known = known
    return oracle


def shared(rate: float, oracle: bool, workers: int = 32) -> list[Result]:
    results = []
    for latency in LATENCIES:
        for draw in range(1, 11):
            storm = Storm(quota(rate, other=rate / 2), 100, latency, workers=workers, jitter=0.5, seed=draw)
            if oracle:
                storm.controller = told(storm, rate / 2)
            results.append(storm.run())
    return results


def share_line(results: list[Result]) -> str:
    shares = sorted(r.throttled_share for r in results)
    return f"{statistics.median(shares):.1%} | {shares[int(len(shares) * 0.9)]:.1%} | {shares[-1]:.1%}"


def main() -> None:
    print("| quota R (half taken) | refused: median | p90 | worst | oracle: median | p90 | worst |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for rate in (10.0, 4.0, 50.0):
        print(f"| {rate:g}/s | {share_line(shared(rate, False))} | {share_line(shared(rate, True))} |", flush=True)

    print("\n| calls in flight at most | oracle at R = 10: median | worst | unthrottled plan of 1,000 at 50 ms |")
    print("|---:|---:|---:|---:|")
    for workers in (32, 8, 4):
        shares = [r.throttled_share for r in shared(10.0, True, workers)]
        unthrottled = Storm(lambda _t: False, 1000, 0.05, workers=workers, jitter=0.5, seed=1).run().elapsed
        print(f"| {workers} | {statistics.median(shares):.1%} | {max(shares):.1%} | {unthrottled:.1f} s |", flush=True)

    print("\n| first estimate at least | 60% at random: median, p90, worst / ideal | steady 1/s quota: worst refused |")
    print("|---:|---|---:|")
    for floor in (1.0, 2.0, 3.0):
        ratios = []
        for draw in DRAWS:
            base = Storm(lambda _t: False, 100, 0.02, jitter=0.5, seed=draw).run().elapsed
            run = Storm(at_random(0.6, draw), 100, 0.02, jitter=0.5, seed=draw, first_floor=floor).run()
            # Beside the endpoint's 0.8 s of start-up and CPU that the model does not count.
            ratios.append((run.elapsed + 0.8 / 0.4) / ((base + 0.8) / 0.4))
        ratios.sort()
        steady = max(
            Storm(quota(1.0), 100, 0.02, jitter=0.5, seed=draw, first_floor=floor).run().throttled_share
            for draw in range(1, 11)
        )
        print(
            f"| {floor:g}/s | {statistics.median(ratios):.1f}x, {ratios[int(len(ratios) * 0.9)]:.1f}x, "
            f"{ratios[-1]:.1f}x | {steady:.1%} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
