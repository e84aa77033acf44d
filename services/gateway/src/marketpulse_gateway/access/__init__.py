"""Who may use the API, and how much: API keys (format, store, CLI), rate limits (GCRA in
Redis and in memory) and CORS. The doors ask it through admission.Admission."""
