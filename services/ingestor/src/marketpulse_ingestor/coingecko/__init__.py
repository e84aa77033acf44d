"""`MP_SOURCE=coingecko`: the MarketSource over CoinGecko's HTTP API — its plans, jobs, client,
response models and how each timeframe is built from what a plan offers. Imports only the root.
"""
