"""audiolens.cli."""
