/** The timeframes the gateway serves, and their length. */

const SECONDS: Record<string, number> = {
  "1m": 60,
  "5m": 300,
  "15m": 900,
  "1h": 3600,
  "4h": 14400,
  "1d": 86400,
};

export function timeframeSeconds(tf: string): number | null {
  return SECONDS[tf] ?? null;
}

/** From `/readyz` (never guarded): its channel names per asset include `candles:<tf>`. */
export function timeframesFromReadiness(body: unknown): string[] {
  const found = new Set<string>();
  const assets = (body as { assets?: Record<string, Record<string, unknown>> }).assets ?? {};
  for (const channels of Object.values(assets)) {
    for (const name of Object.keys(channels)) {
      const [kind, tf] = name.split(":");
      if (kind === "candles" && tf !== undefined && tf in SECONDS) found.add(tf);
    }
  }
  return [...found].sort((a, b) => SECONDS[a]! - SECONDS[b]!);
}
