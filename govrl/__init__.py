"""govrl: the pre-deployment assessment for reinforcement-learning systems."""

__version__ = "0.1.0"
