"""The datasets: download and verify them, parse IMM and 300-W, cut and augment training crops."""
