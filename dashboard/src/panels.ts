/**
 * The side panels, rendered from channel values: forecast (with its explanation as a bar chart
 * of feature contributions), evaluation against the baselines (with a reliability diagram and
 * the drift status), and sentiment. Pure functions of the value: each returns the panel body.
 */

import type { Evaluation, Forecast, Present, Sentiment } from "@marketpulse/client";

import { h, s } from "./dom.js";
import { age, num, prob, signedPct } from "./format.js";

/** Live forecasts needed before the live record is the one shown. */
const LIVE_MIN_SAMPLES = 30;

type Scorecard = Evaluation["overall"];
type Bin = Scorecard["calibration"][number];

export function forecastBody(forecast: Present<Forecast>): HTMLElement {
  const { interval, baselines, explanation } = forecast;
  const up = forecast.p_up >= 0.5;
  return h(
    "div",
    { class: "body" },
    h(
      "div",
      { class: "headline" },
      h("span", { class: `big ${up ? "up" : "down"}`, "data-field": "p_up" }, prob(forecast.p_up)),
      h(
        "span",
        { class: "muted" },
        ` chance the close is higher in ${forecast.horizon} ${forecast.horizon === 1 ? "candle" : "candles"}`,
      ),
    ),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "expected return"),
      h("dd", {}, signedPct(100 * forecast.expected_return, 3)),
      h("dt", {}, `${Math.round(interval.level * 100)}% interval`),
      h(
        "dd",
        { "data-field": "interval" },
        `${signedPct(100 * interval.low, 3)} … ${signedPct(100 * interval.high, 3)}`,
      ),
      h("dt", {}, "baselines P(up)"),
      h(
        "dd",
        {},
        `climatology ${prob(baselines.climatology.p_up)} · persistence ${prob(baselines.persistence.p_up)}`,
      ),
      h("dt", {}, "model"),
      h("dd", {}, `${forecast.model_version} (${forecast.source})`),
    ),
    h("h3", {}, "Why: feature contributions to the log-odds"),
    contributionBars(explanation.contributions),
  );
}

function contributionBars(contributions: Forecast["explanation"]["contributions"]): HTMLElement {
  const sorted = [...contributions].sort(
    (a, b) => Math.abs(b.contribution) - Math.abs(a.contribution),
  );
  const scale = Math.max(1e-9, ...sorted.map((c) => Math.abs(c.contribution)));
  const rows = sorted.map((c) => {
    const width = (50 * Math.abs(c.contribution)) / scale;
    const left = c.contribution >= 0 ? 50 : 50 - width;
    return h(
      "div",
      { class: "contribution", title: `${c.feature}: value ${num(c.value)}, z ${num(c.z, 2)}` },
      h("span", { class: "name" }, c.name),
      h(
        "span",
        { class: "track" },
        h("span", {
          class: `bar ${c.contribution >= 0 ? "up" : "down"}`,
          style: `left:${left.toFixed(2)}%;width:${width.toFixed(2)}%`,
        }),
      ),
      h("span", { class: "value" }, num(c.contribution, 3)),
    );
  });
  return h("div", { class: "contributions", "data-field": "explanation" }, ...rows);
}

export function evaluationBody(evaluation: Present<Evaluation>): HTMLElement {
  // The live record once it has enough samples; the backtest-and-live record until then.
  const live = evaluation.live.n >= LIVE_MIN_SAMPLES;
  const card = live ? evaluation.live : evaluation.overall;
  const which = live ? "live forecasts" : "backtest and live forecasts";
  const beats = card.vs_climatology.verdict === "beats" && card.vs_persistence.verdict === "beats";
  const drift = evaluation.drift;
  return h(
    "div",
    { class: "body" },
    beats
      ? h(
          "p",
          { class: "verdict good", "data-field": "verdict" },
          `Beats both baselines (${card.n} ${which}).`,
        )
      : h(
          "p",
          { class: "verdict bad", "data-field": "verdict" },
          `The model does not beat ${notBeaten(card)} over ${card.n} ${which}: ` +
            "treat its probability as no better than that baseline.",
        ),
    h(
      "table",
      { class: "scores" },
      h(
        "tr",
        {},
        h("th", {}, ""),
        h("th", {}, "Brier"),
        h("th", {}, "hit rate"),
        h("th", {}, "model's Brier skill"),
      ),
      scoreRow("model", card.model, null),
      scoreRow("climatology", card.climatology, card.vs_climatology),
      scoreRow("persistence", card.persistence, card.vs_persistence),
    ),
    h("h3", {}, "Reliability"),
    reliabilityDiagram(card.calibration),
    h(
      "p",
      { class: `drift drift-${drift.status}`, "data-field": "drift" },
      `drift: ${drift.status}`,
      drift.reasons.length > 0 ? ` — ${drift.reasons.join("; ")}` : "",
    ),
  );
}

function notBeaten(card: Scorecard): string {
  const names = [];
  if (card.vs_climatology.verdict !== "beats")
    names.push(`climatology (${card.vs_climatology.verdict})`);
  if (card.vs_persistence.verdict !== "beats")
    names.push(`persistence (${card.vs_persistence.verdict})`);
  return names.join(" or ");
}

function scoreRow(
  name: string,
  scores: Scorecard["model"],
  skill: Scorecard["vs_climatology"] | null,
): HTMLElement {
  return h(
    "tr",
    {},
    h("th", {}, name),
    h("td", {}, num(scores.brier, 4)),
    h("td", {}, prob(scores.hit_rate)),
    h("td", {}, skill === null ? "" : num(skill.brier_skill, 3)),
  );
}

/** Forecast probability (x) against the observed frequency (y) per bin, on the diagonal. */
export function reliabilityDiagram(bins: readonly Bin[]): SVGElement {
  const size = 160;
  const pad = 22;
  const span = size - 2 * pad;
  const x = (p: number): number => pad + p * span;
  const y = (p: number): number => size - pad - p * span;
  const maxCount = Math.max(1, ...bins.map((b) => b.count));
  const dots = bins
    .filter((b) => b.mean_p !== null && b.observed !== null && b.count > 0)
    .map((b) =>
      s("circle", {
        cx: x(b.mean_p!).toFixed(1),
        cy: y(b.observed!).toFixed(1),
        r: (2 + 4 * Math.sqrt(b.count / maxCount)).toFixed(1),
        class: "bin",
      }),
    );
  return s(
    "svg",
    {
      viewBox: `0 0 ${size} ${size}`,
      class: "reliability",
      role: "img",
      "aria-label": "reliability diagram",
      "data-bins": dots.length,
    },
    s("rect", { x: pad, y: pad, width: span, height: span, class: "frame" }),
    s("line", { x1: x(0), y1: y(0), x2: x(1), y2: y(1), class: "diagonal" }),
    ...dots,
    s("text", { x: size / 2, y: size - 4, "text-anchor": "middle" }, "forecast P(up)"),
    s(
      "text",
      { x: 8, y: size / 2, transform: `rotate(-90 8 ${size / 2})`, "text-anchor": "middle" },
      "observed",
    ),
  );
}

export function sentimentBody(sentiment: Present<Sentiment>, now: number): HTMLElement {
  const created = Date.parse(sentiment.created_at);
  return h(
    "div",
    { class: "body" },
    h(
      "div",
      { class: "headline" },
      h("span", { class: `big label-${sentiment.label}`, "data-field": "label" }, sentiment.label),
      h(
        "span",
        { class: "muted" },
        ` score ${num(sentiment.score, 2)} · confidence ${prob(sentiment.confidence)}`,
      ),
    ),
    sentiment.fallback
      ? h(
          "p",
          { class: "verdict bad", "data-field": "fallback" },
          "Fallback: the model was unavailable; this is the rule-based estimate.",
        )
      : null,
    h("p", { class: "summary" }, sentiment.summary),
    h("ul", { class: "drivers" }, ...sentiment.drivers.map((d) => h("li", {}, d))),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "provider"),
      h("dd", { "data-field": "provider" }, sentiment.provider),
      h("dt", {}, "model"),
      h("dd", {}, sentiment.model ?? "—"),
      h("dt", {}, "analysed"),
      h("dd", {}, Number.isFinite(created) ? `${age(now - created)} ago` : "—"),
    ),
  );
}
