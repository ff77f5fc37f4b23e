"""Helpers for the facial keypoint notebooks: data, augmentation, models, training, plots."""
