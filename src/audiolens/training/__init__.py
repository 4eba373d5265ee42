"""audiolens.training."""
