import type { FlightDetail, LiveFlight } from "../api/types";
import { altitude, distance, speed, verticalRate, type Units } from "../state/units";

interface Props {
  icao24: string;
  live: LiveFlight | null;
  detail: FlightDetail | null;
  error: string | null;
  trackPoints: number;
  units: Units;
  onClose: () => void;
}

const dash = (v: string | null | undefined): string => (v === null || v === undefined || v === "" ? "—" : v);

function time(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(11, 19)} UTC`;
}

function leg(detail: FlightDetail | null, units: Units): string {
  const r = detail?.route;
  if (!r) return "—";
  const from = r.departure ? `${r.departure.iata ?? r.departureIcao} (${r.departure.name})` : (r.departureIcao ?? "first seen airborne");
  const to = r.inFlight ? "in flight" : r.arrival ? `${r.arrival.iata ?? r.arrivalIcao} (${r.arrival.name})` : (r.arrivalIcao ?? "unknown");
  return `${from} → ${to}, ${distance(r.flownKm, units)} flown`;
}

/** The selected aircraft: its latest state (live when it is in the subscription), leg and track. */
export function FlightDetails({ icao24, live, detail, error, trackPoints, units, onClose }: Props) {
  const f: LiveFlight | null = live ?? detail;
  const nearest = detail?.nearestAirport;
  return (
    <section className="panel details" data-testid="flight-details" aria-labelledby="details-title">
      <header>
        <h2 id="details-title">
          {dash(f?.callsign?.trim())} <span className="icao">{icao24}</span>
        </h2>
        <button type="button" onClick={onClose} aria-label="Close details">
          ×
        </button>
      </header>
      {error ? <p role="alert">{error}</p> : null}
      {f === null && !error ? <p>Loading…</p> : null}
      {f ? (
        <dl>
          <dt>Callsign</dt>
          <dd data-testid="flight-callsign">{dash(f.callsign?.trim())}</dd>
          <dt>icao24</dt>
          <dd>{icao24}</dd>
          <dt>Origin country</dt>
          <dd>{dash(f.originCountry)}</dd>
          <dt>Altitude</dt>
          <dd>{f.onGround ? "on ground" : altitude(f.baroAltitudeM ?? f.geoAltitudeM, units)}</dd>
          <dt>Speed</dt>
          <dd>{speed(f.velocityMps, units)}</dd>
          <dt>Vertical rate</dt>
          <dd>{verticalRate(f.verticalRateMps, units)}</dd>
          <dt>Track</dt>
          <dd>{f.trueTrackDeg === null ? "—" : `${Math.round(f.trueTrackDeg)}°`}</dd>
          <dt>Squawk</dt>
          <dd>{dash(f.squawk)}</dd>
          <dt>Position source</dt>
          <dd>{dash(f.positionSource)}</dd>
          <dt>Phase</dt>
          <dd>{dash(f.phase?.toLowerCase())}</dd>
          <dt>Position</dt>
          <dd data-testid="flight-position">
            {f.latitude === null || f.longitude === null ? "—" : `${f.latitude.toFixed(4)}, ${f.longitude.toFixed(4)}`}
          </dd>
          <dt>Route leg</dt>
          <dd>{leg(detail, units)}</dd>
          <dt>Nearest airport</dt>
          <dd>
            {nearest
              ? `${nearest.airport.iata ?? nearest.airport.icao} ${nearest.airport.name}, ${distance(nearest.distanceKm, units)}`
              : "—"}
          </dd>
          <dt>Last contact</dt>
          <dd>{time(f.lastContact)}</dd>
          <dt>Source</dt>
          <dd>{f.source.toLowerCase()}</dd>
          <dt>Track points</dt>
          <dd data-testid="track-points">{trackPoints}</dd>
        </dl>
      ) : null}
    </section>
  );
}
