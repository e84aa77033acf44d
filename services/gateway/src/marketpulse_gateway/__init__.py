"""marketpulse gateway service."""
