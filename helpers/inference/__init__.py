"""Landmarks on photos and video with a saved model: model files, runtimes, detection, the
Landmarker, the tracker, drawing and timing. Imports nothing from data parsing or training."""
