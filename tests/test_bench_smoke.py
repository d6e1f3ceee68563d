"""The pipeline benchmark still runs end to end at a tiny size (its figures are not judged here)."""

from bench.bench_pipeline import main


def test_bench_runs_and_delivers_changes(capsys):
    figures = main(["--pods", "40", "--services", "4", "--rate", "40", "--seconds", "0.5"])
    out = capsys.readouterr().out
    assert "change -> SSE latency" in out and "memory per pod" in out
    assert figures["pods"] >= 40
    assert figures["delivered"] >= figures["sent"] * 0.9 > 0
    assert figures["latency_p50_ms"] > 0 and figures["cpu_ms_per_change"] > 0
