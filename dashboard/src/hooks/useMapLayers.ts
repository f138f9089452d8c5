/** What the map shows beside aircraft: airports at closer zooms, and the density layer. */
import { useEffect } from "react";
import { ApiError, type Api } from "../api/client";
import { AIRPORTS_NEAR, TRAFFIC_DENSITY } from "../api/documents";
import type { AirportRef, DensityCell } from "../api/types";
import type { MapController } from "../map/controller";
import type { BBox } from "../state/bbox";
import { densityCellDeg, radiusKm } from "../state/geo";
import type { View } from "../state/url";

/** Airports are drawn from this zoom on (`TrafficLayer` names them from 8). */
export const AIRPORT_ZOOM = 7;

export function useAirports(api: Api, map: MapController | null, view: { box: BBox; view: View } | null, keyVersion: number): void {
  useEffect(() => {
    if (!map || !view) return undefined;
    if (view.view.zoom < AIRPORT_ZOOM) {
      map.setAirports([]);
      return undefined;
    }
    const abort = new AbortController();
    api
      .query<{ airports: { nodes: AirportRef[] } }>(
        AIRPORTS_NEAR,
        {
          near: { latitude: view.view.lat, longitude: view.view.lon },
          radiusKm: Math.min(1000, Math.max(10, radiusKm(view.box))),
          first: 1000,
        },
        abort.signal,
      )
      .then((r) => map.setAirports(r.airports.nodes))
      .catch(() => undefined); // a refusal is reported by the Api; the map goes on without
    return () => abort.abort();
  }, [api, map, view, keyVersion]);
}

export function useDensity(
  api: Api,
  map: MapController | null,
  view: { box: BBox; view: View } | null,
  on: boolean,
  cycleId: string | null,
  onError: (message: string) => void,
): void {
  useEffect(() => {
    if (!map || !view) return undefined;
    if (!on) {
      map.setDensity([], 0);
      return undefined;
    }
    const abort = new AbortController();
    const world = view.view.zoom <= 3;
    api
      .query<{ analytics: { trafficDensity: { maxAircraft: number; cells: DensityCell[] } } }>(
        TRAFFIC_DENSITY,
        { bbox: world ? null : view.box, cellDeg: densityCellDeg(view.view.zoom) },
        abort.signal,
      )
      .then((r) => map.setDensity(r.analytics.trafficDensity.cells, r.analytics.trafficDensity.maxAircraft))
      .catch((exc: unknown) => {
        if (exc instanceof ApiError) onError(`Traffic density: ${exc.message}`);
      });
    return () => abort.abort();
    // onError is a state setter.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, map, view, on, cycleId]);
}
