"""The benchmarks still run end to end at a tiny size (their figures are not judged here, only that
every change reached every client and the figures are there)."""

from bench import bench_fanout, bench_pipeline, bench_soak


def test_pipeline_bench_runs_and_delivers_changes(capsys):
    figures = bench_pipeline.main(
        ["--pods", "40", "--services", "4", "--rate", "40", "--seconds", "0.5", "--runs", "1"]
    )
    out = capsys.readouterr().out
    assert "change -> SSE latency" in out and "memory per pod" in out
    assert figures["pods"] >= 40
    assert figures["delivered"] == figures["sent"] > 0
    assert figures["latency_p50_ms"] > 0 and figures["cpu_ms_per_change"] > 0


def test_fanout_bench_runs_both_streams_and_delivers_every_change(capsys):
    argv = ["--clients", "3", "--runs", "1", "--seconds", "0.5", "--rate", "20"]
    figures = bench_fanout.main([*argv, "--grace", "30", "--pods", "20", "--services", "2"])
    out = capsys.readouterr().out
    assert "baseline/new: p99" in out
    for impl in ("baseline", "new"):
        assert 0 < figures[f"{impl}_3_p50_ms"] <= figures[f"{impl}_3_p99_ms"] < float("inf")
    assert figures["p99_ratio_3"] > 0


def test_soak_bench_runs_its_phases(capsys):
    argv = ["--stalled", "3", "--stalled-seconds", "1", "--minutes", "0.05", "--every", "1", "--warmup", "0"]
    figures = bench_soak.main(argv)
    out = capsys.readouterr().out
    assert "readers that never read" in out and "RSS after" in out
    assert figures["actions"] > 0 and figures["rss_end_mb"] > 0
