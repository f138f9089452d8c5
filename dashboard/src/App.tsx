import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Api, ApiError, type ConnectionState, type RuntimeConfig } from "./api/client";
import { LiveFeed } from "./api/live";
import type { AirportRef, FlightDetail, Source } from "./api/types";
import { AirportCard } from "./components/AirportCard";
import { AnalyticsPanel } from "./components/AnalyticsPanel";
import { FilterPanel } from "./components/FilterPanel";
import { FlightDetails } from "./components/FlightDetails";
import { KeyPrompt, ProblemBanner } from "./components/KeyPrompt";
import { Legend } from "./components/Legend";
import { SearchBox } from "./components/SearchBox";
import { StatusBar } from "./components/StatusBar";
import { useAirports, useDensity } from "./hooks/useMapLayers";
import { useSelection } from "./hooks/useSelection";
import { MapController } from "./map/controller";
import { contains, format, WORLD, type BBox } from "./state/bbox";
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
  const [mapReady, setMapReady] = useState<MapController | null>(null);
  const feed = useRef<LiveFeed | null>(null);

  const [units, setUnits] = useState<Units>(initialUnits);
  const [filters, setFilters] = useState<Filters>(initial.filters);
  const [selected, setSelected] = useState<string | null>(initial.icao);
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
    setMapReady(c);
    if (initial.bbox) c.fitBox(initial.bbox);
    else if (initial.view) c.setView(initial.view.lat, initial.view.lon, initial.view.zoom);
    else c.fitBox({ south: -50, west: -150, north: 70, east: 160 });
    setView({ box: c.bounds(), view: c.view() });
    return () => {
      c.remove();
      controller.current = null;
      setMapReady(null);
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
    void api.probe().then((admitted) => {
      if (admitted) setProblem((p) => (p?.isAuth ? null : p));
    });
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

  useAirports(api, mapReady, view, keyVersion);
  useDensity(api, mapReady, view, density, fleet?.cycleId ?? null, setFeedError);

  useEffect(() => controller.current?.setSelected(selected), [selected]);
  // A selection far from the view (a shared link, a search) brings the map to it, once.
  const flyToFound = useCallback((found: FlightDetail) => {
    const c = controller.current;
    const { latitude: lat, longitude: lon } = found;
    if (c && lat !== null && lon !== null && !contains(c.bounds(), lat, lon)) c.flyTo(lat, lon, 7);
  }, []);
  const { detail, error: detailError, track } = useSelection(api, selected, keyVersion, flyToFound);

  useEffect(() => {
    setTrackDrawn(controller.current?.setTrack(track) ?? 0);
  }, [track]);

  const setKey = useCallback(
    (key: string) => {
      api.setKey(key);
      setProblem(null);
      setKeyVersion((v) => v + 1);
      feed.current?.restart();
      void api.probe().then((admitted) => {
        if (admitted) setProblem((p) => (p?.isAuth ? null : p));
      });
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
          {airport ? <AirportCard airport={airport} units={units} onClose={() => setAirport(null)} /> : null}
          {showAnalytics ? <AnalyticsPanel api={api} units={units} cycleId={fleet?.cycleId ?? null} /> : null}
        </aside>
      </main>
    </div>
  );
}
