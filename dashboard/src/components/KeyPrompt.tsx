import { useId, useState, type FormEvent } from "react";
import type { ApiError } from "../api/client";

interface Props {
  problem: ApiError;
  hasKey: boolean;
  onKey: (key: string) => void;
}

/** Asks for an API key when the server wants one (or refused the one sent), saying why. */
export function KeyPrompt({ problem, hasKey, onKey }: Props) {
  const [key, setKey] = useState("");
  const id = useId();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (key.trim()) onKey(key.trim());
  };
  return (
    <section className="key-prompt" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{hasKey ? "The API refused this key" : "The API needs a key"}</h2>
      <p role="alert" data-testid="auth-error">
        {problem.status ? `${problem.status}: ` : ""}
        {problem.message}
        {problem.retryAfterS !== null ? ` (retry after ${problem.retryAfterS} s)` : ""}
      </p>
      <form onSubmit={submit}>
        <label htmlFor={`${id}-key`}>API key</label>
        <input
          id={`${id}-key`}
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={key}
          onChange={(e) => setKey(e.target.value)}
          placeholder="fd_…"
        />
        <button type="submit">Use key</button>
      </form>
      <p className="hint">
        The key is kept in this browser and sent as <code>X-API-Key</code> and in the WebSocket's{" "}
        <code>connection_init</code>. An operator issues one with <code>flightdata keys create --name you</code>.
      </p>
    </section>
  );
}

interface BannerProps {
  problem: ApiError;
  onDismiss: () => void;
}

/** A refusal that is not about the key (429, an unreachable API), with the server's words. */
export function ProblemBanner({ problem, onDismiss }: BannerProps) {
  const title = problem.status === 429 ? "Too many requests" : problem.status === null ? "API unreachable" : `Error ${problem.status}`;
  return (
    <div className="banner" role="alert" data-testid="api-error">
      <strong>{title}:</strong> {problem.message}
      {problem.retryAfterS !== null ? ` Retry after ${problem.retryAfterS} s.` : ""}
      <button type="button" onClick={onDismiss} aria-label="Dismiss message">
        ×
      </button>
    </div>
  );
}
