import { useEffect, useState } from "react";
import type { ConnectionState } from "../api/client";
import type { Source } from "../api/types";
import { age } from "../state/units";

const SOURCE_NAMES: Record<Source, string> = {
  REPLAY: "replay: recorded traffic replayed, not live",
  OPENSKY: "OpenSky Network",
  ADSBX: "ADS-B Exchange-style API",
  RECEIVER: "local receiver",
};

export function connectionText(state: ConnectionState): string {
  switch (state.kind) {
    case "connecting":
      return "Connecting…";
    case "live":
      return "Live";
    case "reconnecting":
      return `Connection lost: reconnecting in ${state.inS} s (attempt ${state.attempt})`;
    case "refused":
      return `Refused: ${state.reason}`;
  }
}

interface Props {
  connection: ConnectionState;
  newestContactMs: number | null;
  sources: Source[];
}

export function StatusBar({ connection, newestContactMs, sources }: Props) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, []);
  const ageS = newestContactMs === null ? null : Math.max(0, (now - newestContactMs) / 1000);
  const replay = sources.includes("REPLAY");
  return (
    <div className="status" role="status" aria-live="polite">
      <span data-testid="connection-status" className={`conn conn-${connection.kind}`}>
        {connectionText(connection)}
      </span>
      <span data-testid="data-age" title="How old the newest position is">
        Data {age(ageS)}
      </span>
      <span data-testid="data-source" className={replay ? "source replay" : "source"}>
        {sources.length === 0 ? "Source: —" : `Source: ${sources.map((s) => SOURCE_NAMES[s]).join(", ")}`}
      </span>
    </div>
  );
}
