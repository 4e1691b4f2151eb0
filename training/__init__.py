"""Training, export and evaluation of the moderation text classifiers (never imported by the service)."""
