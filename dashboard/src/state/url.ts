/**
 * What the address bar says: the view (`lat`, `lon`, `zoom`, or `bbox` to fit on load),
 * the selected aircraft (`icao`, as tar1090 names it), and the filters. Every change of
 * view, selection or filter is written back, so a copied link opens the same map.
 */
import { parse as parseBBox, type BBox } from "./bbox";
import { NO_FILTERS, type Filters, type GroundFilter } from "./filters";

export interface View {
  lat: number;
  lon: number;
  zoom: number;
}

export interface UrlState {
  view: View | null;
  bbox: BBox | null;
  icao: string | null;
  filters: Filters;
}

const HEX = /^[0-9a-f]{6}$/;

function num(params: URLSearchParams, name: string, lo: number, hi: number): number | null {
  const raw = params.get(name);
  if (raw === null || raw.trim() === "") return null;
  const v = Number(raw);
  return Number.isFinite(v) && v >= lo && v <= hi ? v : null;
}

export function readUrl(search: string): UrlState {
  const params = new URLSearchParams(search);
  const lat = num(params, "lat", -90, 90);
  const lon = num(params, "lon", -180, 180);
  const zoom = num(params, "zoom", 0, 19);
  const icao = params.get("icao")?.trim().toLowerCase() ?? null;
  const ground = params.get("ground");
  const groundFilter: GroundFilter = ground === "airborne" || ground === "ground" ? ground : "any";
  return {
    view: lat !== null && lon !== null && zoom !== null ? { lat, lon, zoom } : null,
    bbox: parseBBox(params.get("bbox")),
    icao: icao && HEX.test(icao) ? icao : null,
    filters: {
      ...NO_FILTERS,
      callsignPrefix: params.get("callsign") ?? "",
      originCountry: params.get("country") ?? "",
      minAltitudeM: num(params, "altmin", -2000, 30000),
      maxAltitudeM: num(params, "altmax", -2000, 30000),
      ground: groundFilter,
    },
  };
}

const fixed = (v: number, digits: number): string => String(Number(v.toFixed(digits)));

/** The query string for a state (`?` included; empty when there is nothing to say). */
export function writeUrl(state: Omit<UrlState, "bbox">): string {
  const params = new URLSearchParams();
  if (state.view) {
    params.set("lat", fixed(state.view.lat, 4));
    params.set("lon", fixed(state.view.lon, 4));
    params.set("zoom", fixed(state.view.zoom, 2));
  }
  if (state.icao) params.set("icao", state.icao);
  const f = state.filters;
  if (f.callsignPrefix.trim()) params.set("callsign", f.callsignPrefix.trim());
  if (f.originCountry.trim()) params.set("country", f.originCountry.trim());
  if (f.minAltitudeM !== null) params.set("altmin", String(Math.round(f.minAltitudeM)));
  if (f.maxAltitudeM !== null) params.set("altmax", String(Math.round(f.maxAltitudeM)));
  if (f.ground !== "any") params.set("ground", f.ground);
  const text = params.toString();
  return text ? `?${text}` : "";
}
