"""marketpulse sentiment service."""
