"""Model definitions, checkpoint loaders and presets."""
