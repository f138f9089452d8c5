import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Api, ApiError, type ConnectionState, type RuntimeConfig } from "./api/client";
import { AIRPORTS_NEAR, FLIGHT_DETAIL, TRAFFIC_DENSITY } from "./api/documents";
import { appendPoint, followTrack, LiveFeed } from "./api/live";
import type { AirportRef, DensityCell, FlightDetail, Source, TrackPoint } from "./api/types";
import { AnalyticsPanel } from "./components/AnalyticsPanel";
import { FilterPanel } from "./components/FilterPanel";
import { FlightDetails } from "./components/FlightDetails";
import { KeyPrompt, ProblemBanner } from "./components/KeyPrompt";
import { SearchBox } from "./components/SearchBox";
import { StatusBar } from "./components/StatusBar";
import { MapController } from "./map/controller";
import { format, WORLD, type BBox } from "./state/bbox";
import { matcher, type Filters } from "./state/filters";
import { positioned, sources as fleetSources, type Fleet } from "./state/fleet";
import type { Units } from "./state/units";
import { readUrl, writeUrl, type View } from "./state/url";

const UNITS_KEY = "flightdata.units";

function initialUnits(): Units {
  try {
    return window.localStorage.getItem(UNITS_KEY) === "metric" ? "metric" : "aviation";
  } catch {
    return "aviation";
  }
}

/** Kilometres from the centre of a box to its corner: the radius that covers it. */
function radiusKm(box: BBox): number {
  const lat = ((box.south + box.north) / 2) * (Math.PI / 180);
  const dLat = ((box.north - box.south) / 2) * 111.2;
  const span = box.west > box.east ? box.east + 360 - box.west : box.east - box.west;
  const dLon = (span / 2) * 111.2 * Math.cos(lat);
  return Math.hypot(dLat, dLon);
}

function densityCell(zoom: number): number {
  if (zoom <= 3) return 2;
  if (zoom <= 5) return 1;
  if (zoom <= 7) return 0.25;
  return 0.1;
}

interface Counts {
  inView: number;
  total: number;
  bbox: string;
}

export function App({ config }: { config: RuntimeConfig }) {
  const api = useMemo(() => new Api(config), [config]);
  const initial = useMemo(() => readUrl(window.location.search), []);
  const mapElement = useRef<HTMLDivElement>(null);
  const controller = useRef<MapController | null>(null);
  const feed = useRef<LiveFeed | null>(null);

  const [units, setUnits] = useState<Units>(initialUnits);
  const [filters, setFilters] = useState<Filters>(initial.filters);
  const [selected, setSelected] = useState<string | null>(initial.icao);
  const [detail, setDetail] = useState<FlightDetail | null>(null);
  const [detailError, setDetailError] = useState<string | null>(null);
  const [track, setTrack] = useState<TrackPoint[]>([]);
  const [trackDrawn, setTrackDrawn] = useState(0);
  const [counts, setCounts] = useState<Counts>({ inView: 0, total: 0, bbox: format(WORLD) });
  const [fleet, setFleet] = useState<Fleet | null>(null);
  const [connection, setConnection] = useState<ConnectionState>({ kind: "connecting" });
  const [problem, setProblem] = useState<ApiError | null>(null);
  const [feedError, setFeedError] = useState<string | null>(null);
  const [density, setDensity] = useState(false);
  const [view, setView] = useState<{ box: BBox; view: View } | null>(null);
  const [airport, setAirport] = useState<AirportRef | null>(null);
  const [showAnalytics, setShowAnalytics] = useState(true);
  const [keyVersion, setKeyVersion] = useState(0);

  const filtersRef = useRef(filters);
  filtersRef.current = filters;
  const match = useMemo(() => matcher(filters), [filters]);
  const matchRef = useRef(match);
  matchRef.current = match;

  // The map, once.
  useEffect(() => {
    if (!mapElement.current) return undefined;
    const c = new MapController(mapElement.current, config.tileUrl, config.tileAttribution, {
      onView: (box, v) => setView({ box, view: v }),
      onPick: (f) => setSelected(f ? f.icao24 : null),
      onDraw: (result, box) =>
        setCounts((prev) =>
          prev.inView === result.inView && prev.total === result.total && prev.bbox === format(box)
            ? prev
            : { inView: result.inView, total: result.total, bbox: format(box) },
        ),
      onBasemapError: (message) => setFeedError(`The basemap did not load: ${message}`),
    });
    controller.current = c;
    if (initial.bbox) c.fitBox(initial.bbox);
    else if (initial.view) c.setView(initial.view.lat, initial.view.lon, initial.view.zoom);
    else c.fitBox({ south: -50, west: -150, north: 70, east: 160 });
    setView({ box: c.bounds(), view: c.view() });
    return () => {
      c.remove();
      controller.current = null;
    };
  }, [config, initial]);

  // The live feed, and what the API says about keys, limits and the connection.
  useEffect(() => {
    const f = new LiveFeed(
      api,
      (next) => {
        controller.current?.setFlights(positioned(next), matchRef.current);
        setFleet(next);
        setFeedError(null);
      },
      (message) => setFeedError(message),
    );
    feed.current = f;
    const offProblem = api.onProblem((error) => setProblem(error));
    const offConnection = api.onConnection((state) => {
      setConnection(state);
      // Subscribed: whatever was said about the key is no longer so.
      if (state.kind === "live") setProblem((p) => (p?.isAuth ? null : p));
    });
    // One small query up front: a refusal comes back with the server's reason, which a
    // refused WebSocket cannot carry.
    api.request("query Probe { __typename }").then(
      () => setProblem((p) => (p?.isAuth ? null : p)),
      () => undefined, // reported through onProblem
    );
    return () => {
      offProblem();
      offConnection();
      f.stop();
      api.dispose();
    };
  }, [api]);

  // Follow the view.
  useEffect(() => {
    if (!view) return;
    feed.current?.follow(view.box, view.view.zoom);
    window.history.replaceState(null, "", `${window.location.pathname}${writeUrl({ view: view.view, icao: selected, filters })}`);
  }, [view, selected, filters]);

  // Filters redraw at once.
  useEffect(() => {
    const c = controller.current;
    const f = feed.current?.fleet;
    if (c && f) c.setFlights(positioned(f), match);
  }, [match]);

  // Airports near the view at closer zooms.
  useEffect(() => {
    const c = controller.current;
    if (!c || !view) return undefined;
    if (view.view.zoom < 7) {
      c.setAirports([]);
      return undefined;
    }
    const abort = new AbortController();
    api
      .query<{ airports: { nodes: AirportRef[] } }>(
        AIRPORTS_NEAR,
        { near: { latitude: view.view.lat, longitude: view.view.lon }, radiusKm: Math.min(1000, Math.max(10, radiusKm(view.box))), first: 1000 },
        abort.signal,
      )
      .then((r) => c.setAirports(r.airports.nodes))
      .catch(() => undefined);
    return () => abort.abort();
  }, [api, view, keyVersion]);

  // The density layer.
  useEffect(() => {
    const c = controller.current;
    if (!c || !view) return undefined;
    if (!density) {
      c.setDensity([], 0);
      return undefined;
    }
    const abort = new AbortController();
    const world = view.view.zoom <= 3;
    api
      .query<{ analytics: { trafficDensity: { maxAircraft: number; cells: DensityCell[] } } }>(
        TRAFFIC_DENSITY,
        { bbox: world ? null : view.box, cellDeg: densityCell(view.view.zoom) },
        abort.signal,
      )
      .then((r) => c.setDensity(r.analytics.trafficDensity.cells, r.analytics.trafficDensity.maxAircraft))
      .catch((exc: unknown) => {
        if (exc instanceof ApiError) setFeedError(`Traffic density: ${exc.message}`);
      });
    return () => abort.abort();
  }, [api, view, density, fleet?.cycleId]);

  // The selected aircraft: details and track from the store, then its live positions.
  useEffect(() => {
    controller.current?.setSelected(selected);
    setDetail(null);
    setDetailError(null);
    setTrack([]);
    if (!selected) return undefined;
    const abort = new AbortController();
    let first = true;
    api
      .query<{ flight: FlightDetail | null }>(FLIGHT_DETAIL, { icao24: selected }, abort.signal)
      .then((r) => {
        if (!r.flight) {
          setDetailError(`No live aircraft ${selected}.`);
          return;
        }
        setDetail(r.flight);
        const points = r.flight.track?.points ?? [];
        setTrack((live) => {
          let merged = points;
          for (const p of live) merged = appendPoint(merged, p);
          return merged;
        });
        const c = controller.current;
        const { latitude: lat, longitude: lon } = r.flight;
        if (c && first && lat !== null && lon !== null) {
          first = false;
          const box = c.bounds();
          const inside = lat >= box.south && lat <= box.north && (box.west <= box.east ? lon >= box.west && lon <= box.east : lon >= box.west || lon <= box.east);
          if (!inside) c.flyTo(lat, lon, 7);
        }
      })
      .catch((exc: unknown) => {
        if (exc instanceof DOMException && exc.name === "AbortError") return;
        setDetailError(exc instanceof ApiError ? exc.message : String(exc));
      });
    const stop = followTrack(
      api,
      selected,
      (point) => setTrack((points) => appendPoint(points, point)),
      (message) => setDetailError(message),
    );
    return () => {
      abort.abort();
      stop();
    };
  }, [api, selected, keyVersion]);

  useEffect(() => {
    setTrackDrawn(controller.current?.setTrack(track) ?? 0);
  }, [track]);

  const setKey = useCallback(
    (key: string) => {
      api.setKey(key);
      setProblem(null);
      setKeyVersion((v) => v + 1);
      feed.current?.restart();
      api.request("query Probe { __typename }").then(
        () => setProblem((p) => (p?.isAuth ? null : p)),
        () => undefined, // reported through onProblem
      );
    },
    [api],
  );

  const changeUnits = (u: Units) => {
    setUnits(u);
    try {
      window.localStorage.setItem(UNITS_KEY, u);
    } catch {
      // No storage: the choice lasts for this page.
    }
  };

  const live = selected ? (fleet?.flights.get(selected) ?? null) : null;
  const srcs: Source[] = useMemo(() => (fleet ? fleetSources(fleet) : []), [fleet]);
  const countries = useMemo(() => {
    const set = new Set<string>();
    if (fleet) for (const f of fleet.flights.values()) if (f.originCountry) set.add(f.originCountry);
    return [...set].sort();
  }, [fleet]);

  return (
    <div className="app">
      <header className="topbar">
        <h1 className="brand">
          <span aria-hidden="true">✈</span> flightdata
        </h1>
        <SearchBox
          api={api}
          local={(icao) => feed.current?.fleet.flights.get(icao) ?? null}
          onFlight={(f) => {
            setAirport(null);
            setSelected(f.icao24);
            if (f.latitude !== null && f.longitude !== null) controller.current?.flyTo(f.latitude, f.longitude, 6);
          }}
          onAirport={(a) => {
            setAirport(a);
            controller.current?.setView(a.latitude, a.longitude, 10);
          }}
        />
        <StatusBar connection={connection} newestContactMs={fleet?.newestContactMs ?? null} sources={srcs} />
        <div className="controls">
          <label htmlFor="units">Units</label>
          <select id="units" value={units} onChange={(e) => changeUnits(e.target.value as Units)}>
            <option value="aviation">Aviation (ft, kt)</option>
            <option value="metric">Metric (m, km/h)</option>
          </select>
          <button type="button" aria-pressed={showAnalytics} onClick={() => setShowAnalytics((s) => !s)}>
            Analytics
          </button>
          <a href="/graphql">GraphiQL</a>
        </div>
      </header>
      {problem && problem.isAuth ? <KeyPrompt problem={problem} hasKey={api.apiKey !== null} onKey={setKey} /> : null}
      {problem && !problem.isAuth ? <ProblemBanner problem={problem} onDismiss={() => setProblem(null)} /> : null}
      {feedError ? (
        <div className="banner warn" role="status">
          {feedError}
        </div>
      ) : null}
      {fleet && fleet.dropped > 0 ? (
        <div className="banner warn" role="status">
          The server dropped {fleet.dropped} update batches this browser could not keep up with; the map was refreshed from a new snapshot.
        </div>
      ) : null}
      <main className="content">
        <aside className="sidebar left" aria-label="Aircraft filters" tabIndex={0}>
          <FilterPanel
            filters={filters}
            units={units}
            countries={countries}
            onChange={setFilters}
            inView={counts.inView}
            total={counts.total}
            bbox={counts.bbox}
            density={density}
            onDensity={setDensity}
          />
          <Legend units={units} />
        </aside>
        <div className="map" ref={mapElement} role="region" aria-label="Map" tabIndex={0} />
        <aside className="sidebar right" aria-label="Details and analytics" tabIndex={0}>
          {selected ? (
            <FlightDetails
              icao24={selected}
              live={live}
              detail={detail}
              error={detailError}
              trackPoints={trackDrawn}
              units={units}
              onClose={() => setSelected(null)}
            />
          ) : null}
          {airport ? (
            <section className="panel airport" data-testid="airport-details" aria-labelledby="airport-title">
              <header>
                <h2 id="airport-title">
                  {airport.iata ?? airport.icao} · {airport.name}
                </h2>
                <button type="button" onClick={() => setAirport(null)} aria-label="Close airport">
                  ×
                </button>
              </header>
              <p>
                {airport.icao}
                {airport.city ? `, ${airport.city}` : ""}
                {airport.country ? `, ${airport.country}` : ""}
                {airport.elevationM !== null ? `, elevation ${Math.round(units === "aviation" ? airport.elevationM * 3.28084 : airport.elevationM)} ${units === "aviation" ? "ft" : "m"}` : ""}
              </p>
            </section>
          ) : null}
          {showAnalytics ? <AnalyticsPanel api={api} units={units} cycleId={fleet?.cycleId ?? null} /> : null}
        </aside>
      </main>
    </div>
  );
}

function Legend({ units }: { units: Units }) {
  const steps = [0, 2, 4, 6, 8, 10, 12];
  return (
    <section className="panel legend" aria-label="Altitude colours">
      <h2>Altitude</h2>
      <ul>
        <li>
          <span className="swatch" style={{ background: "#8a8f98" }} /> on ground
        </li>
        {steps.map((km) => (
          <li key={km}>
            <span className="swatch" style={{ background: `hsl(${Math.round(20 + (km / 13) * 270)} 85% 52%)` }} />
            {units === "aviation" ? `${Math.round((km * 1000 * 3.28084) / 1000)}k ft` : `${km} km`}
          </li>
        ))}
      </ul>
    </section>
  );
}
