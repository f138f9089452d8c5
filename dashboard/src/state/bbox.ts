/**
 * Boxes in degrees as the API takes them: `west > east` crosses the antimeridian, and a
 * point is inside when `south <= lat <= north` and its longitude is in [west, east], as
 * the server's `BoundingBox.contains` decides.
 */

export interface BBox {
  south: number;
  west: number;
  north: number;
  east: number;
}

export const WORLD: BBox = { south: -90, west: -180, north: 90, east: 180 };

const clampLat = (v: number): number => Math.max(-90, Math.min(90, v));

/** A longitude in [-180, 180); 180 itself stays 180 when it is an east edge. */
function wrapLon(v: number): number {
  return ((((v + 180) % 360) + 360) % 360) - 180;
}

function round(v: number): number {
  return Math.round(v * 1e5) / 1e5;
}

/** A map view's bounds (longitudes may run past ±180 on a wrapped map) as an API box. */
export function normalize(south: number, west: number, north: number, east: number): BBox {
  const s = round(clampLat(Math.min(south, north)));
  const n = round(clampLat(Math.max(south, north)));
  if (east - west >= 360) return { south: s, west: -180, north: n, east: 180 };
  let w = wrapLon(west);
  let e = wrapLon(east);
  if (e === -180 && east > west) e = 180;
  w = round(w);
  e = round(e);
  return { south: s, west: w, north: n, east: e };
}

export function contains(box: BBox, lat: number, lon: number): boolean {
  if (lat < box.south || lat > box.north) return false;
  if (box.west > box.east) return lon >= box.west || lon <= box.east;
  return lon >= box.west && lon <= box.east;
}

/** Degrees of longitude a box spans, across the antimeridian too. */
export function lonSpan(box: BBox): number {
  return box.west > box.east ? box.east + 360 - box.west : box.east - box.west;
}

/** Whether `inner` lies wholly inside `outer`. */
export function within(inner: BBox, outer: BBox): boolean {
  if (inner.south < outer.south || inner.north > outer.north) return false;
  if (lonSpan(outer) >= 360) return true;
  const offset = (((inner.west - outer.west) % 360) + 360) % 360;
  return offset + lonSpan(inner) <= lonSpan(outer) + 1e-9;
}

/** The box grown by `fraction` of its size on every side; the world once it spans it. */
export function pad(box: BBox, fraction: number): BBox {
  const dLat = (box.north - box.south) * fraction;
  const span = lonSpan(box);
  const dLon = span * fraction;
  const south = clampLat(box.south - dLat);
  const north = clampLat(box.north + dLat);
  if (span + 2 * dLon >= 360) return { south, west: -180, north, east: 180 };
  return normalize(south, box.west - dLon, north, box.west + span + dLon);
}

export function format(box: BBox): string {
  return `${box.south},${box.west},${box.north},${box.east}`;
}

/** `south,west,north,east` as in `?bbox=`; null when it is not four numbers in range. */
export function parse(text: string | null): BBox | null {
  if (!text) return null;
  const parts = text.split(",").map((p) => Number(p.trim()));
  if (parts.length !== 4 || parts.some((p) => !Number.isFinite(p))) return null;
  const [south, west, north, east] = parts as [number, number, number, number];
  if (south < -90 || north > 90 || south > north) return null;
  if (west < -180 || west > 180 || east < -180 || east > 180) return null;
  return { south, west, north, east };
}
