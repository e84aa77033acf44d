"""marketpulse ingestor service."""
