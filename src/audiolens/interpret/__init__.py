"""Interpretation tools that work on any ``nn.Module`` + layer names (information plane, sonification)."""
