import { bandColour, GROUND_COLOUR } from "../map/projection";
import { FT_PER_M, type Units } from "../state/units";

/** The altitude colours of the map: one band per 1,000 m, as `projection.altitudeBand`, labelled by its floor, rounded. */
export function Legend({ units }: { units: Units }) {
  const bands = [0, 2, 4, 6, 8, 10, 12];
  return (
    <section className="panel legend" aria-label="Altitude colours">
      <h2>Altitude</h2>
      <ul>
        <li>
          <span className="swatch" style={{ background: GROUND_COLOUR }} /> on ground
        </li>
        {bands.map((band) => (
          <li key={band}>
            <span className="swatch" style={{ background: bandColour(band) }} />
            {units === "aviation" ? `${Math.round((band * 1000 * FT_PER_M) / 1000)}k ft` : `${band} km`}
          </li>
        ))}
      </ul>
    </section>
  );
}
