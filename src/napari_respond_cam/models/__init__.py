"""Models: the paper's architectures, the registry of named models, and model files."""
