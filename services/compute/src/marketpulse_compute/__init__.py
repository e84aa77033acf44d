"""marketpulse compute service."""
