"""audiolens.report."""
