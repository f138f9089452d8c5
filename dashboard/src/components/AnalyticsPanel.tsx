import { useEffect, useMemo, useState } from "react";
import { ApiError, type Api } from "../api/client";
import { ANALYTICS } from "../api/documents";
import type { AnalyticsResult } from "../api/types";
import { fromMetres, altitudeUnit, type Units } from "../state/units";
import { altitudeBand, bandColour } from "../map/projection";
import { ChartView } from "./Chart";

const REFRESH_MS = 30_000;
const BLUE = "#60a5fa";

interface Props {
  api: Api;
  units: Units;
  /** Changes when a new cycle arrived, so the cycle chart keeps up. */
  cycleId: string | null;
}

/** Aggregates beside the map: regions, altitudes, busiest airports, data quality, ingest cycles. */
export function AnalyticsPanel({ api, units, cycleId }: Props) {
  const [result, setResult] = useState<AnalyticsResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    const timer = window.setInterval(() => setTick((t) => t + 1), REFRESH_MS);
    return () => window.clearInterval(timer);
  }, []);

  // Refresh on the timer, and on a new cycle at most every 10 s.
  const [lastCycleLoad, setLastCycleLoad] = useState(0);
  useEffect(() => {
    if (cycleId === null) return;
    if (Date.now() - lastCycleLoad < 10_000) return;
    setLastCycleLoad(Date.now());
    setTick((t) => t + 1);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [cycleId]);

  useEffect(() => {
    const abort = new AbortController();
    api
      .query<AnalyticsResult>(ANALYTICS, { cycles: 20 }, abort.signal)
      .then((r) => {
        setResult(r);
        setError(null);
      })
      .catch((exc: unknown) => {
        if (exc instanceof DOMException && exc.name === "AbortError") return;
        setError(exc instanceof ApiError ? exc.message : String(exc));
      });
    return () => abort.abort();
  }, [api, tick]);

  const a = result?.analytics;
  const regions = useMemo(
    () => ({
      labels: a?.regionCounts.regions.map((r) => r.region.replaceAll("_", " ")) ?? [],
      datasets: [{ label: "Aircraft", data: a?.regionCounts.regions.map((r) => r.aircraft) ?? [], backgroundColor: BLUE }],
    }),
    [a],
  );
  const unit = altitudeUnit(units);
  const altitudes = useMemo(
    () => ({
      labels: a?.altitudeHistogram.buckets.map((b) => `${fromMetres(b.lowM, units).toLocaleString("en-US")}`) ?? [],
      datasets: [
        {
          label: "Airborne aircraft",
          data: a?.altitudeHistogram.buckets.map((b) => b.aircraft) ?? [],
          // The map's colour for each band's floor.
          backgroundColor: a?.altitudeHistogram.buckets.map((b) => bandColour(altitudeBand(b.lowM, false))) ?? [],
        },
      ],
    }),
    [a, units],
  );
  const airports = useMemo(
    () => ({
      labels: a?.busiestAirports.airports.map((x) => x.airport?.iata ?? x.icao) ?? [],
      datasets: [
        { label: "Departures", data: a?.busiestAirports.airports.map((x) => x.departures) ?? [], backgroundColor: "#34d399" },
        { label: "Arrivals", data: a?.busiestAirports.airports.map((x) => x.arrivals) ?? [], backgroundColor: "#f59e0b" },
      ],
    }),
    [a],
  );
  const cycles = result?.pipelineStatus.cycles ?? [];
  const ordered = useMemo(() => [...cycles].reverse(), [cycles]);
  const cycleChart = useMemo(
    () => ({
      labels: ordered.map((c) => new Date(c.startedAt).toISOString().slice(11, 19)),
      datasets: [
        { type: "bar" as const, label: "Stored", data: ordered.map((c) => c.stored), backgroundColor: "#34d399", stack: "s" },
        { type: "bar" as const, label: "Duplicates", data: ordered.map((c) => c.duplicates), backgroundColor: "#94a3b8", stack: "s" },
        { type: "bar" as const, label: "Rejected", data: ordered.map((c) => c.rejected), backgroundColor: "#f87171", stack: "s" },
      ],
    }),
    [ordered],
  );
  const quality = a?.dataQuality;
  const last = cycles[0];

  return (
    <section className="panel analytics" aria-labelledby="analytics-title">
      <h2 id="analytics-title">Analytics</h2>
      {error ? <p role="alert">Analytics unavailable: {error}</p> : null}
      <h3>Aircraft by region</h3>
      <ChartView type="bar" data={regions} label={`Aircraft by region: ${a?.regionCounts.regions.map((r) => `${r.region} ${r.aircraft}`).join(", ") ?? "loading"}`} options={{ indexAxis: "y", plugins: { legend: { display: false } } }} height={190} />
      <h3>Altitude ({unit}, lower edge of each band)</h3>
      <ChartView type="bar" data={altitudes} label={`Altitude histogram; ${a?.altitudeHistogram.onGround ?? 0} on the ground`} options={{ plugins: { legend: { display: false } } }} />
      <p className="hint">{a ? `${a.altitudeHistogram.onGround.toLocaleString("en-US")} on the ground, ${a.altitudeHistogram.withoutAltitude} without altitude` : ""}</p>
      <h3>Busiest airports (24 h)</h3>
      {a && a.busiestAirports.airports.length === 0 ? (
        <p className="hint">No takeoffs or landings detected yet.</p>
      ) : (
        <ChartView type="bar" data={airports} label="Busiest airports by departures and arrivals" options={{ scales: { x: { stacked: true }, y: { stacked: true } } }} />
      )}
      <h3>Data quality (1 h)</h3>
      {quality ? (
        <>
          <p data-testid="reject-rate">
            {quality.received.toLocaleString("en-US")} received, {quality.rejected.toLocaleString("en-US")} rejected (
            {(quality.rejectRate * 100).toFixed(2)} %)
            {quality.freshnessLagS !== null ? `, newest position ${Math.round(quality.freshnessLagS)} s old` : ""}
          </p>
          <ul className="reasons">
            {quality.reasons.slice(0, 5).map((r) => (
              <li key={r.reason}>
                {r.reason.replaceAll("_", " ")}: {r.count.toLocaleString("en-US")}
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <h3>Recent ingest cycles</h3>
      <ChartView type="bar" data={cycleChart} label="Records stored, duplicate and rejected per ingest cycle" options={{ scales: { x: { stacked: true }, y: { stacked: true } } }} />
      {last ? (
        <p className="hint" data-testid="last-cycle">
          Last cycle ({last.source}): {last.received.toLocaleString("en-US")} received, {last.stored.toLocaleString("en-US")} stored,{" "}
          {last.rejected.toLocaleString("en-US")} rejected, {last.duplicates.toLocaleString("en-US")} duplicates
          {last.error ? `; error: ${last.error}` : ""}. Dead letters: {result?.pipelineStatus.deadLetterCount.toLocaleString("en-US")}.
        </p>
      ) : null}
    </section>
  );
}
