/** What a search text can mean, decided before asking the API. */

const HEX = /^[0-9a-f]{6}$/i;

export interface SearchPlan {
  text: string;
  /** Could be an icao24 address. */
  isHex: boolean;
  icao24: string;
  /** Upper case, for callsigns and airport codes. */
  code: string;
}

export function plan(raw: string): SearchPlan | null {
  const text = raw.trim();
  if (text === "") return null;
  const isHex = HEX.test(text);
  return { text, isHex, icao24: isHex ? text.toLowerCase() : "000000", code: text.toUpperCase() };
}
