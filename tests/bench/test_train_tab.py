"""python -m bench.train_tab: how soon each family's Train-tab defaults reach what the tab states."""

from __future__ import annotations

from bench import train_tab


def test_the_summary_reads_the_first_probe_at_or_above_each_mark():
    probes = [(3.0, 0, 0.0), (6.0, 50, 0.85), (9.0, 100, 0.96), (12.0, 150, 0.9), (15.0, 200, 1.0)]
    assert train_tab.summary(probes, 0.95) == {"to_stated": 9.0, "to_90%": 9.0, "to_100%": 15.0, "best": 1.0}
    assert train_tab.summary(probes[:2], 0.95) == {"to_stated": None, "to_90%": None, "to_100%": None,
                                                   "best": 0.85}
