import { useState, type FormEvent } from "react";
import type { Api } from "../api/client";
import { SEARCH } from "../api/documents";
import type { AirportRef, LiveFlight } from "../api/types";
import { plan } from "../state/search";

interface Props {
  api: Api;
  /** An aircraft the map already has, by icao24. */
  local: (icao24: string) => LiveFlight | null;
  onFlight: (flight: LiveFlight) => void;
  onAirport: (airport: AirportRef) => void;
}

type Hit = { kind: "flight"; flight: LiveFlight } | { kind: "airport"; airport: AirportRef };

interface SearchResult {
  flight?: LiveFlight | null;
  byCallsign: { totalCount: number; nodes: LiveFlight[] } | null;
  airport: AirportRef | null;
  airports: { nodes: AirportRef[] } | null;
}

/** One box for aircraft (icao24, callsign) and airports (ICAO, IATA, name). */
export function SearchBox({ api, local, onFlight, onAirport }: Props) {
  const [text, setText] = useState("");
  const [hits, setHits] = useState<Hit[] | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const choose = (hit: Hit) => {
    setHits(null);
    setMessage(null);
    if (hit.kind === "flight") onFlight(hit.flight);
    else onAirport(hit.airport);
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const p = plan(text);
    if (!p) return;
    const known = p.isHex ? local(p.icao24) : null;
    if (known) {
      choose({ kind: "flight", flight: known });
      return;
    }
    setBusy(true);
    setMessage(null);
    try {
      const { data } = await api.request<SearchResult>(SEARCH, {
        code: p.code,
        text: p.text,
        callsign: p.code,
        icao24: p.icao24,
        isHex: p.isHex,
      });
      const found: Hit[] = [];
      if (data?.flight) found.push({ kind: "flight", flight: data.flight });
      for (const f of data?.byCallsign?.nodes ?? []) if (f.icao24 !== data?.flight?.icao24) found.push({ kind: "flight", flight: f });
      if (data?.airport) found.push({ kind: "airport", airport: data.airport });
      for (const a of data?.airports?.nodes ?? []) if (a.icao !== data?.airport?.icao) found.push({ kind: "airport", airport: a });
      const exact = found.find(
        (h) =>
          (h.kind === "flight" && (h.flight.icao24 === p.icao24 || h.flight.callsign?.trim().toUpperCase() === p.code)) ||
          (h.kind === "airport" && (h.airport.icao === p.code || h.airport.iata === p.code)),
      );
      if (exact) choose(exact);
      else if (found.length === 0) {
        setHits(null);
        setMessage(`No aircraft or airport matches “${p.text}”.`);
      } else setHits(found);
    } catch {
      // The refusal is shown by the page's problem banner or key prompt.
      setHits(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="search" role="search" onSubmit={(e) => void submit(e)}>
      <label htmlFor="search" className="visually-hidden">
        Search
      </label>
      <input
        id="search"
        type="search"
        aria-label="Search"
        placeholder="icao24, callsign or airport"
        autoComplete="off"
        spellCheck={false}
        value={text}
        aria-busy={busy}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Escape") setHits(null);
        }}
      />
      {message ? (
        <p className="search-message" role="status">
          {message}
        </p>
      ) : null}
      {hits ? (
        <ul className="search-results" aria-label="Search results">
          {hits.map((h) => (
            <li key={h.kind === "flight" ? `f-${h.flight.icao24}` : `a-${h.airport.icao}`}>
              <button type="button" onClick={() => choose(h)}>
                {h.kind === "flight"
                  ? `✈ ${h.flight.callsign?.trim() || "—"} · ${h.flight.icao24} · ${h.flight.originCountry ?? ""}`
                  : `⌂ ${h.airport.iata ?? h.airport.icao} · ${h.airport.name}${h.airport.city ? `, ${h.airport.city}` : ""}`}
              </button>
            </li>
          ))}
        </ul>
      ) : null}
    </form>
  );
}
