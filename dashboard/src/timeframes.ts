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

/** Every timeframe `/v1/assets` says is served, for any asset, shortest first. */
export function servedTimeframes(assets: readonly { timeframes: readonly string[] }[]): string[] {
  const found = new Set(assets.flatMap((a) => a.timeframes.filter((tf) => tf in SECONDS)));
  return [...found].sort((a, b) => SECONDS[a]! - SECONDS[b]!);
}
