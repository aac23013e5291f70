"""The PCA timing rule: one untimed warm-up per method, then interleaved rounds, best kept."""
from __future__ import annotations

from bigfruits.bench import pca_fits


def test_best_times_skips_warm_up_interleaves_and_keeps_the_best(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(pca_fits.time, "perf_counter", lambda: clock[0])
    durations = {"a": iter([100.0, 3.0, 2.0, 4.0]), "b": iter([50.0, 9.0, 7.0, 8.0])}
    calls = []

    def action(name):
        def run():
            calls.append(name)
            clock[0] += next(durations[name])
        return run

    best = pca_fits.best_times({"a": action("a"), "b": action("b")}, repeats=3)

    assert best == {"a": 2.0, "b": 7.0}  # the warm-ups (100 s, 50 s) are not counted
    assert calls == ["a", "b"] + ["a", "b"] * 3  # warm-ups, then rounds taking turns
