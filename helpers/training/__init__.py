"""Training and finishing models: the loop, studies, losses, distillation, precision, the release
recipes, scores on validation faces and model cards."""
