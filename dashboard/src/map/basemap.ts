/**
 * The offline basemap: Natural Earth's countries at 1:50m from the `world-atlas` package,
 * emitted as a file of the build and fetched from the same server, so the map draws with no
 * internet. With a tile URL configured, online tiles are offered as a second base layer.
 */
import L from "leaflet";
import { feature } from "topojson-client";
import type { Geometry, Position } from "geojson";
import type { GeometryCollection, Topology } from "topojson-specification";
import countriesUrl from "world-atlas/countries-50m.json?url";

export async function naturalEarth(renderer: L.Renderer): Promise<L.GeoJSON> {
  const response = await fetch(countriesUrl);
  if (!response.ok) throw new Error(`basemap: ${response.status} ${response.statusText}`);
  const topology = (await response.json()) as Topology<{ countries: GeometryCollection }>;
  const countries = feature(topology, topology.objects.countries);
  // Antarctica's outline runs along the pole and the antimeridian: drawn in Mercator it is
  // a band of lines across the bottom of the map, and no traffic is there to see.
  countries.features = countries.features.filter((f) => f.id !== "010");
  for (const f of countries.features) unwrapGeometry(f.geometry);
  // Leaflet passes these options on to each path; `renderer` is a path option.
  const options: L.GeoJSONOptions & L.PathOptions = {
    renderer,
    interactive: false,
    style: { color: "#3a4a63", weight: 0.8, fillColor: "#1c2636", fillOpacity: 1 },
  };
  return L.geoJSON(countries, options);
}

export function tiles(url: string, attribution: string | null): L.TileLayer {
  return L.tileLayer(url, { attribution: attribution ?? "", maxZoom: 19, crossOrigin: true });
}

/**
 * Rings that cross the antimeridian (Russia's Chukotka, Fiji) jump from 180 to -180 in the
 * data; drawn as they are, Leaflet joins the two ends with a line across the whole map.
 * Each ring is made continuous instead, running past 180 where it crosses.
 */
export function unwrapRing(ring: Position[]): void {
  let shift = 0;
  let previous: number | null = null;
  for (const point of ring) {
    const lon = point[0] as number;
    if (previous !== null) {
      if (lon - previous > 180) shift -= 360;
      else if (previous - lon > 180) shift += 360;
    }
    previous = lon;
    point[0] = lon + shift;
  }
}

function unwrapGeometry(geometry: Geometry): void {
  if (geometry.type === "Polygon") geometry.coordinates.forEach(unwrapRing);
  else if (geometry.type === "MultiPolygon") geometry.coordinates.forEach((polygon) => polygon.forEach(unwrapRing));
}
