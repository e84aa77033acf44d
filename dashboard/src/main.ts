/**
 * The dashboard: first paint from REST `/snapshot`, then live from the WebSocket through
 * @marketpulse/client (snapshot + deltas merged, gaps and epochs re-snapshotted, resume after
 * a reconnection). Asset and timeframe switch without a reload (`#asset/tf` in the URL).
 *
 * `window.__marketpulse` is a read-only view of the page's counters (the client's diagnostics
 * plus the seq chain this page saw per channel), for the browser tests and the benchmark.
 */

import "./style.css";

import {
  MarketPulse,
  MarketPulseHttpError,
  MarketPulseStreamError,
  type Change,
  type ConnectionState,
  type Evaluation,
  type Forecast,
  type Indicators,
  type Present,
  type Sentiment,
  type Ticker,
  type Timeframe,
} from "@marketpulse/client";

import { CandleBook, type Bar } from "./candles.js";
import { CandleChart } from "./chart.js";
import { byId, h } from "./dom.js";
import { age, num, price, signedPct } from "./format.js";
import {
  candleProducedAt,
  fromMeta,
  NEVER,
  panelState,
  tickerProducedAt,
  updated,
  type Freshness,
} from "./freshness.js";
import { DEFAULT_PERIODS, periodsFrom, type IndicatorPeriods } from "./indicators.js";
import { evaluationBody, forecastBody, sentimentBody } from "./panels.js";
import { servedTimeframes, timeframeSeconds } from "./timeframes.js";

const KEY_STORAGE = "marketpulse.apiKey";
const FIRST_PRICE_MARK = "marketpulse:first-price";
const HISTORY = 300; // candles asked for on a first paint
const BOOK_LIMIT = 600; // candles kept per chart; the oldest go (by setData) beyond it
const EVALUATION_POLL_MS = 15_000; // evaluation has no channel: REST, revalidated by ETag
const EVALUATION_MIN_GAP_MS = 5_000; // at most this often on new forecasts
const TICKER_MAX_AGE_MS = 120_000;
const SENTIMENT_MAX_AGE_MS = 6 * 3600_000;

type PanelName = "chart" | "forecast" | "evaluation" | "sentiment";

interface Counters {
  missed: number; // deltas whose prev_seq was not the seq this page held: must stay 0
  deltas: number;
  priceUpdates: number;
  snapshots: Record<string, number>;
  lastSeq: Record<string, string>;
}

class Dashboard {
  private readonly mp: MarketPulse;
  private assets: string[] = [];
  private timeframes: string[] = [];
  private asset = "";
  private tf = "";
  private token = 0;
  private readonly tickers = new Map<string, { ticker: Present<Ticker>; freshness: Freshness }>();
  private readonly freshness: Record<PanelName, Freshness> = {
    chart: NEVER,
    forecast: NEVER,
    evaluation: NEVER,
    sentiment: NEVER,
  };
  private book = new CandleBook(BOOK_LIMIT);
  private periods: IndicatorPeriods = DEFAULT_PERIODS;
  private readonly chart: CandleChart;
  private selectionOffs: (() => void)[] = [];
  private pollTimer: number | undefined;
  private lastEvaluationPoll = 0;
  private sentiment: Present<Sentiment> | undefined;
  private readonly counters: Counters = {
    missed: 0,
    deltas: 0,
    priceUpdates: 0,
    snapshots: {},
    lastSeq: {},
  };

  private readonly hasKey: boolean;

  constructor(apiKey: string | undefined) {
    this.hasKey = apiKey !== undefined;
    this.mp = new MarketPulse(
      apiKey === undefined ? { url: location.origin } : { url: location.origin, apiKey },
    );
    this.chart = new CandleChart(byId("chart"));
    this.mp.on("state", (state) => this.onState(state));
    this.mp.on("error", (error) => this.onError(error));
    window.setInterval(() => this.renderAges(), 1000);
    addEventListener("hashchange", () => void this.fromHash());
    addEventListener("pagehide", () => {
      this.chart.dispose();
      this.mp.close();
    });
  }

  get view(): object {
    const d = this.mp.diagnostics;
    return {
      state: d.state,
      asset: this.asset,
      tf: this.tf,
      gaps: d.gaps,
      resyncs: d.resyncs,
      recovered: d.recovered,
      notRecovered: d.notRecovered,
      epochChanges: d.epochChanges,
      reconnects: d.reconnects,
      connects: d.connects,
      deltasApplied: d.deltasApplied,
      missed: this.counters.missed,
      deltas: this.counters.deltas,
      priceUpdates: this.counters.priceUpdates,
      snapshots: { ...this.counters.snapshots },
      lastSeq: { ...this.counters.lastSeq },
      chart: { ...this.chart.counts, dropped: this.book.dropped },
    };
  }

  async start(): Promise<void> {
    let assets;
    try {
      assets = await this.mp.assets();
    } catch (error) {
      if (error instanceof MarketPulseHttpError && (error.status === 401 || error.status === 403)) {
        askForKey(
          this.hasKey
            ? `That API key was refused (${error.status}): enter another.`
            : "This gateway requires an API key.",
        );
        return;
      }
      this.banner(`The gateway did not answer (${String(error)}); retrying…`);
      window.setTimeout(() => void this.start(), 3000);
      return;
    }
    this.banner(null);
    this.assets = assets.data.map((a) => a.asset);
    this.timeframes = servedTimeframes(assets.data);
    for (const summary of assets.data) {
      if (summary.ticker !== null) {
        this.tickers.set(summary.asset, {
          ticker: summary.ticker as Present<Ticker>,
          freshness: fromMeta(assets.meta, Date.now()),
        });
      }
    }
    this.renderTimeframeSelect();
    this.renderAssets();
    for (const asset of this.assets) {
      this.mp.subscribe(`ticker:${asset}`, (value, change) => this.onTicker(asset, value, change));
    }
    await this.fromHash();
  }

  private async fromHash(): Promise<void> {
    const [asset, tf] = decodeURIComponent(location.hash.slice(1)).split("/");
    const nextAsset = asset && this.assets.includes(asset) ? asset : (this.assets[0] ?? "");
    const nextTf = tf && this.timeframes.includes(tf) ? tf : (this.timeframes[0] ?? "1h");
    if (nextAsset === this.asset && nextTf === this.tf) return;
    await this.select(nextAsset, nextTf);
  }

  /** Show another asset or timeframe: drop the old channels, paint from REST, subscribe. */
  async select(asset: string, tf: string): Promise<void> {
    const token = ++this.token;
    for (const off of this.selectionOffs) off();
    this.selectionOffs = [];
    window.clearInterval(this.pollTimer);
    this.asset = asset;
    this.tf = tf;
    history.replaceState(null, "", `#${asset}/${tf}`);
    byId<HTMLSelectElement>("tf").value = tf;
    byId("chart-title").textContent = `${asset} · ${tf}`;
    this.book = new CandleBook(BOOK_LIMIT);
    this.chart.clear();
    this.sentiment = undefined;
    for (const name of ["chart", "forecast", "evaluation", "sentiment"] as const) {
      this.freshness[name] = NEVER;
    }
    this.renderAssets();
    this.resetPanels();

    try {
      const { data, meta } = await this.mp.snapshot(asset, { tf: tf as Timeframe, limit: HISTORY });
      if (token !== this.token) return;
      this.banner(null);
      const now = Date.now();
      const part = (name: string): Freshness => fromMeta(meta.parts[name], now);
      if (data.indicators) this.showIndicators(data.indicators as Present<Indicators>);
      if (data.candles) {
        this.book.load(data.candles);
        this.chart.setHistory(this.book.all, this.periods);
        this.freshness.chart = part("candles");
      }
      if (data.forecast) this.showForecast(data.forecast as Present<Forecast>, part("forecast"));
      if (data.evaluation)
        this.showEvaluation(data.evaluation as Present<Evaluation>, part("evaluation"));
      if (data.sentiment)
        this.showSentiment(data.sentiment as Present<Sentiment>, part("sentiment"));
    } catch (error) {
      if (token !== this.token) return;
      this.banner(`No snapshot for ${asset} ${tf} yet (${String(error)}); waiting for live data.`);
    }

    const subscribe = <C extends string>(
      channel: C,
      apply: (value: never, change: Change) => void,
    ): void => {
      this.selectionOffs.push(
        this.mp.subscribe(channel, (value, change) => {
          this.track(channel, change);
          if (value !== undefined) apply(value as never, change);
        }),
      );
    };
    subscribe(`candles:${asset}:${tf}`, (bar: Bar, change) => this.onCandle(bar, change, token));
    subscribe(`indicators:${asset}:${tf}`, (v: Present<Indicators>) => this.showIndicators(v));
    subscribe(`forecast:${asset}:${tf}`, (v: Present<Forecast>) => {
      this.showForecast(v, stamped(v.computed_at));
      // A forecast comes with each closed candle, and the evaluation is updated with it.
      if (Date.now() - this.lastEvaluationPoll > EVALUATION_MIN_GAP_MS)
        void this.pollEvaluation(token);
    });
    subscribe(`sentiment:${asset}`, (v: Present<Sentiment>) =>
      this.showSentiment(v, stamped(v.created_at)),
    );
    this.pollTimer = window.setInterval(() => void this.pollEvaluation(token), EVALUATION_POLL_MS);
    this.renderAges();
  }

  /** The page's own check of the seq chain: every delta must follow the seq held before it. */
  private track(channel: string, change: Change): void {
    const held = this.counters.lastSeq[channel];
    if (change.type === "delta") {
      this.counters.deltas += 1;
      if (held !== undefined && change.prevSeq !== held) this.counters.missed += 1;
    } else if (change.type === "snapshot") {
      this.counters.snapshots[change.reason] = (this.counters.snapshots[change.reason] ?? 0) + 1;
    }
    if (change.seq !== null) this.counters.lastSeq[channel] = change.seq;
  }

  private onTicker(asset: string, ticker: Present<Ticker> | undefined, change: Change): void {
    this.track(`ticker:${asset}`, change);
    if (ticker === undefined) return;
    const previous = this.tickers.get(asset)?.freshness ?? NEVER;
    const freshness = updated(change, previous, tickerProducedAt(ticker), Date.now());
    this.tickers.set(asset, { ticker, freshness });
    this.counters.priceUpdates += 1;
    this.renderTicker(asset);
  }

  private onCandle(bar: Bar, change: Change, token: number): void {
    const last = this.book.last;
    const step = timeframeSeconds(this.tf);
    if (last !== undefined && step !== null && bar.t > last.t + step) {
      // Bars closed between the REST history and this one (or during an outage): refetch.
      void this.refetchCandles(token);
    }
    const push = this.book.push(bar);
    this.chart.apply(push, this.book.all, this.periods);
    const producedAt = candleProducedAt(bar, step);
    this.freshness.chart = updated(change, this.freshness.chart, producedAt, Date.now());
    this.renderAges();
  }

  private async refetchCandles(token: number): Promise<void> {
    try {
      const { data } = await this.mp.candles(this.asset, {
        tf: this.tf as Timeframe,
        limit: HISTORY,
      });
      if (token !== this.token) return;
      const latest = this.book.last;
      this.book.load(latest === undefined ? data : [...data, latest]);
      this.chart.setHistory(this.book.all, this.periods);
    } catch {
      // The next candle tries again.
    }
  }

  private async pollEvaluation(token: number): Promise<void> {
    this.lastEvaluationPoll = Date.now();
    try {
      const { data, meta } = await this.mp.evaluation(this.asset, { tf: this.tf as Timeframe });
      if (token !== this.token) return;
      this.showEvaluation(data as Present<Evaluation>, fromMeta(meta, Date.now()));
    } catch {
      // Not computed yet, or the gateway is away: the panel's age says how old it is.
    }
  }

  private showIndicators(value: Present<Indicators>): void {
    const periods = periodsFrom(value.params);
    if (JSON.stringify(periods) !== JSON.stringify(this.periods)) {
      this.periods = periods;
      this.chart.setHistory(this.book.all, periods);
    }
    const v = value.values;
    byId("indicator-readout").textContent =
      `RSI ${num(v[`rsi_${periods.rsi}`], 1)} · MACD ${num(v["macd"], 2)} / ${num(v["macd_signal"], 2)}` +
      ` · EMA ${periods.emaFast} ${price(v[`ema_${periods.emaFast}`])}`;
  }

  private showForecast(forecast: Present<Forecast>, freshness: Freshness): void {
    this.freshness.forecast = freshness;
    replaceBody("forecast", forecastBody(forecast));
    this.renderAges();
  }

  private showEvaluation(evaluation: Present<Evaluation>, freshness: Freshness): void {
    this.freshness.evaluation = freshness;
    replaceBody("evaluation", evaluationBody(evaluation));
    this.renderAges();
  }

  private showSentiment(sentiment: Present<Sentiment>, freshness: Freshness): void {
    this.sentiment = sentiment;
    this.freshness.sentiment = freshness;
    replaceBody("sentiment", sentimentBody(sentiment, Date.now()));
    this.renderAges();
  }

  private onState(_state: ConnectionState): void {
    this.renderAges();
  }

  private onError(error: unknown): void {
    if (error instanceof MarketPulseStreamError) {
      if (error.kind === "auth") {
        askForKey("The gateway refused the stream: an API key is needed, or this one was revoked.");
      } else if (error.kind === "listener") {
        // A bug in this page: loud, so the browser tests see it.
        console.error("dashboard listener failed", error.cause ?? error);
      } else if (error.fatal) {
        this.banner(`The stream stopped: ${error.message}. Reload to try again.`);
      }
    }
  }

  // --- rendering ---------------------------------------------------------------------------

  private renderTimeframeSelect(): void {
    const select = byId<HTMLSelectElement>("tf");
    select.replaceChildren(...this.timeframes.map((tf) => h("option", { value: tf }, tf)));
    select.onchange = () => void this.select(this.asset, select.value);
  }

  private renderAssets(): void {
    const nav = byId("assets");
    nav.replaceChildren(
      h("h2", {}, "Assets"),
      ...this.assets.map((asset) => {
        const button = h(
          "button",
          {
            type: "button",
            class: "asset",
            "data-asset": asset,
            "aria-pressed": asset === this.asset,
          },
          h("span", { class: "name" }, asset),
          h("span", { class: "price" }, "—"),
          h("span", { class: "change" }, ""),
          h("span", { class: "age" }, ""),
        );
        button.onclick = () => void this.select(asset, this.tf);
        return button;
      }),
    );
    for (const asset of this.assets) this.renderTicker(asset);
  }

  private renderTicker(asset: string): void {
    const row = document.querySelector<HTMLElement>(`.asset[data-asset="${CSS.escape(asset)}"]`);
    const held = this.tickers.get(asset);
    if (row === null || held === undefined) return;
    const change = held.ticker.change_24h_pct;
    row.querySelector(".price")!.textContent = price(held.ticker.price);
    if (performance.getEntriesByName(FIRST_PRICE_MARK).length === 0) {
      performance.mark(FIRST_PRICE_MARK); // read by bench/bench_dashboard.py
    }
    const changeEl = row.querySelector<HTMLElement>(".change")!;
    changeEl.textContent = signedPct(change);
    changeEl.dataset["sign"] = change === undefined ? "" : change >= 0 ? "up" : "down";
    this.renderTickerAge(row, held.freshness, Date.now());
  }

  private renderTickerAge(row: HTMLElement, freshness: Freshness, now: number): void {
    const state = panelState(this.mp.state, freshness, now, TICKER_MAX_AGE_MS);
    row.dataset["state"] = state;
    row.querySelector(".age")!.textContent = ageLabel(state, freshness, now);
  }

  private renderAges(): void {
    const now = Date.now();
    const connection = this.mp.state;
    const badge = byId("connection");
    badge.dataset["state"] = connection;
    badge.textContent = connection === "stale" ? "stale (heartbeat late)" : connection;
    const step = (timeframeSeconds(this.tf) ?? 3600) * 1000;
    const limits: Record<PanelName, number> = {
      chart: 2 * step + 60_000,
      forecast: 2 * step + 60_000,
      evaluation: 4 * step + 120_000,
      sentiment: SENTIMENT_MAX_AGE_MS,
    };
    for (const name of Object.keys(limits) as PanelName[]) {
      const freshness = this.freshness[name];
      const state = panelState(connection, freshness, now, limits[name]);
      const panel = document.querySelector<HTMLElement>(`[data-panel="${name}"]`)!;
      panel.dataset["state"] = state;
      panel.querySelector(".age")!.textContent = ageLabel(state, freshness, now);
    }
    for (const asset of this.assets) {
      const row = document.querySelector<HTMLElement>(`.asset[data-asset="${CSS.escape(asset)}"]`);
      const held = this.tickers.get(asset);
      if (row !== null && held !== undefined) this.renderTickerAge(row, held.freshness, now);
    }
  }

  private resetPanels(): void {
    replaceBody(
      "forecast",
      h("div", { class: "body" }, h("p", { class: "empty" }, "waiting for a forecast…")),
    );
    replaceBody(
      "evaluation",
      h("div", { class: "body" }, h("p", { class: "empty" }, "waiting for an evaluation…")),
    );
    replaceBody(
      "sentiment",
      h("div", { class: "body" }, h("p", { class: "empty" }, "no sentiment yet")),
    );
    byId("indicator-readout").textContent = "";
  }

  private banner(text: string | null): void {
    const el = byId("banner");
    el.hidden = text === null;
    el.textContent = text ?? "";
  }
}

/** Freshness from the value's own wall-clock stamp (`computed_at`, `created_at`). */
function stamped(iso: string): Freshness {
  const at = Date.parse(iso);
  const now = Date.now();
  return { producedAt: Number.isFinite(at) ? Math.min(at, now) : now, serverStale: false };
}

function ageLabel(state: string, freshness: Freshness, now: number): string {
  if (freshness.producedAt === null) return "waiting";
  const label = `${age(now - freshness.producedAt)} old`;
  return state === "live" ? label : `${state} · ${label}`;
}

function replaceBody(panel: string, body: HTMLElement): void {
  byId(panel).querySelector(".body")!.replaceWith(body);
}

function askForKey(reason: string): void {
  const form = byId<HTMLFormElement>("key-form");
  byId("key-reason").textContent = reason;
  form.hidden = false;
  form.onsubmit = (event) => {
    event.preventDefault();
    const key = byId<HTMLInputElement>("key-input").value.trim();
    if (key === "") return;
    sessionStorage.setItem(KEY_STORAGE, key);
    location.reload();
  };
}

function main(): void {
  const apiKey = sessionStorage.getItem(KEY_STORAGE) ?? undefined;
  const dashboard = new Dashboard(apiKey);
  const keyButton = byId<HTMLButtonElement>("key-button");
  keyButton.hidden = apiKey === undefined;
  keyButton.onclick = () => {
    sessionStorage.removeItem(KEY_STORAGE);
    askForKey("Enter another API key (kept in this tab's session storage only).");
  };
  Object.defineProperty(window, "__marketpulse", {
    get: () => dashboard.view,
    configurable: false,
  });
  void dashboard.start();
}

main();
