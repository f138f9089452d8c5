/** The map's filters: which aircraft are drawn. Altitudes are in metres. */
import type { LiveFlight } from "../api/types";

export type GroundFilter = "any" | "airborne" | "ground";

export interface Filters {
  callsignPrefix: string;
  originCountry: string;
  minAltitudeM: number | null;
  maxAltitudeM: number | null;
  ground: GroundFilter;
}

export const NO_FILTERS: Filters = {
  callsignPrefix: "",
  originCountry: "",
  minAltitudeM: null,
  maxAltitudeM: null,
  ground: "any",
};

export function active(filters: Filters): boolean {
  return (
    filters.callsignPrefix.trim() !== "" ||
    filters.originCountry.trim() !== "" ||
    filters.minAltitudeM !== null ||
    filters.maxAltitudeM !== null ||
    filters.ground !== "any"
  );
}

/** Barometric altitude, else geometric; 0 on the ground. */
export function altitudeOf(f: LiveFlight): number | null {
  if (f.onGround) return 0;
  return f.baroAltitudeM ?? f.geoAltitudeM;
}

/**
 * A predicate for the filters, built once per change and called per aircraft per draw.
 * An altitude range drops aircraft that report no altitude.
 */
export function matcher(filters: Filters): (f: LiveFlight) => boolean {
  if (!active(filters)) return () => true;
  const prefix = filters.callsignPrefix.trim().toUpperCase();
  const country = filters.originCountry.trim().toLowerCase();
  const { minAltitudeM: lo, maxAltitudeM: hi, ground } = filters;
  return (f) => {
    if (prefix && !(f.callsign ?? "").toUpperCase().startsWith(prefix)) return false;
    if (country && (f.originCountry ?? "").toLowerCase() !== country) return false;
    if (ground === "airborne" && f.onGround) return false;
    if (ground === "ground" && !f.onGround) return false;
    if (lo !== null || hi !== null) {
      const alt = altitudeOf(f);
      if (alt === null) return false;
      if (lo !== null && alt < lo) return false;
      if (hi !== null && alt > hi) return false;
    }
    return true;
  };
}
