"""Webhooks: signed HTTP notifications of request changes to systems outside Aftercare."""
