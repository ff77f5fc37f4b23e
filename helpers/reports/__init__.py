"""Commands that measure and report: benchmarks, the tracking clip, int8, the demo, the
notebook runner, the write-up page and the tables of the README and docs."""
