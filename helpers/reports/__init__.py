"""Commands that measure and report: benchmarks, the tracking clip, int8, the demo, the
notebook runner and the write-up page."""
