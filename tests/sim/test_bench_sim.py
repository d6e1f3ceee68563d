"""The simulator benchmark still runs end to end at a tiny size (its figures are not judged here)."""

from bench.bench_sim import main


def test_bench_sim_runs_and_reports_each_size(capsys) -> None:  # type: ignore[no-untyped-def]
    figures = main(["--sizes", "40", "80", "--runs", "1", "--healthz-pods", "0", "--no-rss"])
    out = capsys.readouterr().out
    assert "40 pods: build" in out and "80 pods: build" in out
    small, big = figures["sizes"][40], figures["sizes"][80]
    assert small["wall_ratio"] == 1.0 and big["cpu_s"] > 0
    assert 0 < big["most_writes_per_callback"] <= 200
    assert big["traced_bytes_per_pod"] > 0
