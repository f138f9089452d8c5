import type { AirportRef } from "../api/types";
import { altitude, type Units } from "../state/units";

interface Props {
  airport: AirportRef;
  units: Units;
  onClose: () => void;
}

/** The airport a search found. */
export function AirportCard({ airport, units, onClose }: Props) {
  const place = [airport.city, airport.country].filter(Boolean).join(", ");
  return (
    <section className="panel airport" data-testid="airport-details" aria-labelledby="airport-title">
      <header>
        <h2 id="airport-title">
          {airport.iata ?? airport.icao} · {airport.name}
        </h2>
        <button type="button" onClick={onClose} aria-label="Close airport">
          ×
        </button>
      </header>
      <p>
        {airport.icao}
        {place ? `, ${place}` : ""}
        {airport.elevationM !== null ? `, elevation ${altitude(airport.elevationM, units)}` : ""}
      </p>
    </section>
  );
}
