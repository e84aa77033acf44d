"""Contracts shared by the marketpulse services: settings, names, schemas, Redis helpers."""
