/**
 * Web Mercator in pixels at a zoom, as Leaflet's EPSG:3857 computes it, without an object
 * per point: the traffic layer projects every aircraft on every frame of a pan.
 */
const D2R = Math.PI / 180;
const MAX_SIN = 0.9999;

export function worldSize(zoom: number): number {
  return 256 * 2 ** zoom;
}

export function projectX(lon: number, size: number): number {
  return (size * (lon + 180)) / 360;
}

export function projectY(lat: number, size: number): number {
  const s = Math.max(-MAX_SIN, Math.min(MAX_SIN, Math.sin(lat * D2R)));
  return size * (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI));
}

/** Altitude colours from the ground (grey) through orange, green and blue to violet. */
const PALETTE = (() => {
  const colours: string[] = [];
  for (let i = 0; i < 14; i += 1) {
    const hue = 20 + (i / 13) * 270;
    colours.push(`hsl(${Math.round(hue)} 85% 52%)`);
  }
  return colours;
})();

export const GROUND_COLOUR = "#8a8f98";
export const UNKNOWN_COLOUR = "#c9ccd1";

/** Index into `altitudeColours()` for an altitude in metres; -1 on the ground, -2 unknown. */
export function altitudeBand(altitudeM: number | null, onGround: boolean): number {
  if (onGround) return -1;
  if (altitudeM === null) return -2;
  return Math.max(0, Math.min(PALETTE.length - 1, Math.floor(altitudeM / 1000)));
}

export function altitudeColours(): readonly string[] {
  return PALETTE;
}

export function bandColour(band: number): string {
  if (band === -1) return GROUND_COLOUR;
  if (band === -2) return UNKNOWN_COLOUR;
  return PALETTE[band] ?? UNKNOWN_COLOUR;
}
