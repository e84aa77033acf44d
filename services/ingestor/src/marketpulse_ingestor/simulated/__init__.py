"""`MP_SOURCE=simulated`: the offline MarketSource — the seeded price model, the market built on
it, and the simulation clock every replica shares through Redis. Imports only the root.
"""
