"""Comment moderation service: validate, score, publish or hold."""

__version__ = "0.1.0"
