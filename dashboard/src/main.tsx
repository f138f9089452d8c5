import "leaflet/dist/leaflet.css";
import "./styles.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { DEFAULT_CONFIG, type RuntimeConfig } from "./api/client";

/** The server's `config.json` says where the API is and which tiles to offer. */
async function loadConfig(): Promise<RuntimeConfig> {
  try {
    const response = await fetch("./config.json", { cache: "no-store" });
    if (!response.ok) return DEFAULT_CONFIG;
    return { ...DEFAULT_CONFIG, ...((await response.json()) as Partial<RuntimeConfig>) };
  } catch {
    return DEFAULT_CONFIG;
  }
}

const root = document.getElementById("root");
if (root) {
  void loadConfig().then((config) =>
    createRoot(root).render(
      <StrictMode>
        <App config={config} />
      </StrictMode>,
    ),
  );
}
