/** Sizes of boxes on the Earth, for what the map asks the API. */
import { lonSpan, type BBox } from "./bbox";

const KM_PER_DEG = 111.2;

/** Kilometres from the centre of a box to its corner: the radius that covers it. */
export function radiusKm(box: BBox): number {
  const lat = ((box.south + box.north) / 2) * (Math.PI / 180);
  const dLat = ((box.north - box.south) / 2) * KM_PER_DEG;
  const dLon = (lonSpan(box) / 2) * KM_PER_DEG * Math.cos(lat);
  return Math.hypot(dLat, dLon);
}

/** The density grid's cell in degrees for a zoom: a few hundred cells on screen. */
export function densityCellDeg(zoom: number): number {
  if (zoom <= 3) return 2;
  if (zoom <= 5) return 1;
  if (zoom <= 7) return 0.25;
  return 0.1;
}
