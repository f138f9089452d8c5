// @vitest-environment node
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { buildSchema, parse, validate } from "graphql";
import { describe, expect, it } from "vitest";
import { ALL_DOCUMENTS } from "./documents";

// The SDL the server exports (`flightdata schema export`); a test on the Python side keeps
// it equal to the running schema.
const sdl = readFileSync(fileURLToPath(new URL("../../../schema/schema.graphql", import.meta.url)), "utf8");
const schema = buildSchema(sdl);

describe("GraphQL documents", () => {
  it.each(Object.entries(ALL_DOCUMENTS))("%s is valid against the server's schema", (_name, document) => {
    const errors = validate(schema, parse(document));
    expect(errors.map((e) => e.message)).toEqual([]);
  });
});
