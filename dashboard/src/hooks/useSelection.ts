/**
 * The selected aircraft: its details and the last hour of track from the store, then its
 * new positions from `trackUpdates`, appended as they come.
 */
import { useEffect, useState } from "react";
import { ApiError, type Api } from "../api/client";
import { FLIGHT_DETAIL } from "../api/documents";
import { appendPoint, followTrack } from "../api/live";
import type { FlightDetail, TrackPoint } from "../api/types";

export interface Selection {
  detail: FlightDetail | null;
  error: string | null;
  track: TrackPoint[];
}

export function useSelection(
  api: Api,
  icao24: string | null,
  keyVersion: number,
  onFound: (detail: FlightDetail) => void,
): Selection {
  const [detail, setDetail] = useState<FlightDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [track, setTrack] = useState<TrackPoint[]>([]);

  useEffect(() => {
    setDetail(null);
    setError(null);
    setTrack([]);
    if (!icao24) return undefined;
    const abort = new AbortController();
    api
      .query<{ flight: FlightDetail | null }>(FLIGHT_DETAIL, { icao24 }, abort.signal)
      .then((r) => {
        if (!r.flight) {
          setError(`No live aircraft ${icao24}.`);
          return;
        }
        setDetail(r.flight);
        const stored = r.flight.track?.points ?? [];
        // Live points may have come first: keep them after the stored ones.
        setTrack((live) => live.reduce(appendPoint, stored));
        onFound(r.flight);
      })
      .catch((exc: unknown) => {
        if (exc instanceof DOMException && exc.name === "AbortError") return;
        setError(exc instanceof ApiError ? exc.message : String(exc));
      });
    const stop = followTrack(
      api,
      icao24,
      (point) => setTrack((points) => appendPoint(points, point)),
      (message) => setError(message),
    );
    return () => {
      abort.abort();
      stop();
    };
    // onFound is read once per selection, on purpose.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, icao24, keyVersion]);

  return { detail, error, track };
}
