/** Unit systems for display: metric (m, km/h, m/s) or aviation (ft, kt, ft/min). */

export type Units = "metric" | "aviation";

export const FT_PER_M = 1 / 0.3048;
export const KT_PER_MPS = 3600 / 1852;
export const KMH_PER_MPS = 3.6;
export const FPM_PER_MPS = FT_PER_M * 60;

const grouped = (v: number): string => Math.round(v).toLocaleString("en-US");

export function altitude(m: number | null, units: Units): string {
  if (m === null) return "—";
  return units === "aviation" ? `${grouped(m * FT_PER_M)} ft` : `${grouped(m)} m`;
}

export function speed(mps: number | null, units: Units): string {
  if (mps === null) return "—";
  return units === "aviation" ? `${grouped(mps * KT_PER_MPS)} kt` : `${grouped(mps * KMH_PER_MPS)} km/h`;
}

export function verticalRate(mps: number | null, units: Units): string {
  if (mps === null) return "—";
  const sign = mps > 0 ? "+" : "";
  return units === "aviation" ? `${sign}${grouped(mps * FPM_PER_MPS)} ft/min` : `${sign}${(Math.round(mps * 10) / 10).toFixed(1)} m/s`;
}

export function distance(km: number | null, units: Units): string {
  if (km === null) return "—";
  return units === "aviation" ? `${grouped(km / 1.852)} NM` : `${grouped(km)} km`;
}

/** The altitude unit's name, for labels of altitude inputs. */
export function altitudeUnit(units: Units): string {
  return units === "aviation" ? "ft" : "m";
}

/** An altitude typed in the display unit, in metres. */
export function toMetres(value: number, units: Units): number {
  return units === "aviation" ? value / FT_PER_M : value;
}

/** Metres in the display unit, rounded. */
export function fromMetres(m: number, units: Units): number {
  return Math.round(units === "aviation" ? m * FT_PER_M : m);
}

export function age(seconds: number | null): string {
  if (seconds === null) return "no data yet";
  if (seconds < 1) return "just now";
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}
