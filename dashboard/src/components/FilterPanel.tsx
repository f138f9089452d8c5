import { useId } from "react";
import { active, type Filters, type GroundFilter } from "../state/filters";
import { altitudeUnit, fromMetres, toMetres, type Units } from "../state/units";

interface Props {
  filters: Filters;
  units: Units;
  countries: string[];
  onChange: (filters: Filters) => void;
  inView: number;
  total: number;
  bbox: string;
  density: boolean;
  onDensity: (on: boolean) => void;
}

export function FilterPanel({ filters, units, countries, onChange, inView, total, bbox, density, onDensity }: Props) {
  const id = useId();
  const unit = altitudeUnit(units);
  const altitude = (text: string): number | null => {
    if (text.trim() === "") return null;
    const v = Number(text);
    return Number.isFinite(v) ? toMetres(v, units) : null;
  };
  const shown = (m: number | null): string => (m === null ? "" : String(fromMetres(m, units)));
  const on = active(filters);
  return (
    <section className="panel filters" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Aircraft</h2>
      <p className="count">
        <span data-testid="aircraft-count" data-bbox={bbox}>
          {inView}
        </span>{" "}
        in view
        {on ? (
          <>
            {" "}
            · <span data-testid="filter-summary">{`${inView} of ${total} aircraft`}</span>
          </>
        ) : null}
      </p>
      <label htmlFor={`${id}-callsign`}>Callsign prefix</label>
      <input
        id={`${id}-callsign`}
        value={filters.callsignPrefix}
        placeholder="e.g. BAW"
        autoComplete="off"
        onChange={(e) => onChange({ ...filters, callsignPrefix: e.target.value })}
      />
      <label htmlFor={`${id}-country`}>Origin country</label>
      <input
        id={`${id}-country`}
        list={`${id}-countries`}
        value={filters.originCountry}
        placeholder="e.g. Germany"
        autoComplete="off"
        onChange={(e) => onChange({ ...filters, originCountry: e.target.value })}
      />
      <datalist id={`${id}-countries`}>
        {countries.map((c) => (
          <option key={c} value={c} />
        ))}
      </datalist>
      <div className="row">
        <div>
          <label htmlFor={`${id}-altmin`}>Minimum altitude</label>
          <input
            id={`${id}-altmin`}
            type="number"
            inputMode="numeric"
            value={shown(filters.minAltitudeM)}
            aria-describedby={`${id}-unit`}
            onChange={(e) => onChange({ ...filters, minAltitudeM: altitude(e.target.value) })}
          />
        </div>
        <div>
          <label htmlFor={`${id}-altmax`}>Maximum altitude</label>
          <input
            id={`${id}-altmax`}
            type="number"
            inputMode="numeric"
            value={shown(filters.maxAltitudeM)}
            aria-describedby={`${id}-unit`}
            onChange={(e) => onChange({ ...filters, maxAltitudeM: altitude(e.target.value) })}
          />
        </div>
      </div>
      <p className="hint" id={`${id}-unit`}>
        Altitudes in {unit}
      </p>
      <label htmlFor={`${id}-ground`}>On ground</label>
      <select
        id={`${id}-ground`}
        value={filters.ground}
        onChange={(e) => onChange({ ...filters, ground: e.target.value as GroundFilter })}
      >
        <option value="any">Any</option>
        <option value="airborne">Airborne</option>
        <option value="ground">On ground</option>
      </select>
      {on ? (
        <button
          type="button"
          className="link"
          onClick={() => onChange({ callsignPrefix: "", originCountry: "", minAltitudeM: null, maxAltitudeM: null, ground: "any" })}
        >
          Clear filters
        </button>
      ) : null}
      <label className="check">
        <input type="checkbox" checked={density} onChange={(e) => onDensity(e.target.checked)} /> Traffic density layer
      </label>
    </section>
  );
}
