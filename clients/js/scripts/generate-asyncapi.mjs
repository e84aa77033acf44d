// Generate src/generated/asyncapi.ts from the gateway's AsyncAPI document: one TypeScript
// type per schema in `components.schemas` (every client op, server frame and channel value),
// so the stream's types come from the same pydantic models the gateway parses and encodes.
//
//   node scripts/generate-asyncapi.mjs <asyncapi.json> [output]   (npm run generate:asyncapi)
import { readFileSync, writeFileSync } from "node:fs";
import { compile } from "json-schema-to-typescript";

const [input, output = "src/generated/asyncapi.ts"] = process.argv.slice(2);
if (!input) {
  console.error("usage: generate-asyncapi.mjs <asyncapi.json> [output.ts]");
  process.exit(2);
}
const document = JSON.parse(readFileSync(input, "utf8"));
const schemas = document.components.schemas;
// The document's refs point into components; as a standalone schema they point into $defs.
const rebased = JSON.parse(
  JSON.stringify(schemas).replaceAll('"#/components/schemas/', '"#/$defs/'),
);
// pydantic titles every field; the generator would make each title a type alias of its own
// (`type PUp = number`). Only the models' own titles name types.
const untitled = (schema) =>
  Array.isArray(schema)
    ? schema.map(untitled)
    : schema && typeof schema === "object"
      ? Object.fromEntries(
          Object.entries(schema)
            .filter(([key]) => key !== "title")
            .map(([key, value]) => [
              key,
              key === "properties" ? mapValues(value, untitled) : untitled(value),
            ]),
        )
      : schema;
const mapValues = (object, f) =>
  Object.fromEntries(Object.entries(object).map(([k, v]) => [k, f(v)]));
for (const [name, schema] of Object.entries(rebased))
  rebased[name] = { ...untitled(schema), title: name };
const root = {
  title: "AsyncAPIDocument",
  type: "object",
  properties: Object.fromEntries(
    Object.keys(rebased).map((name) => [name, { $ref: `#/$defs/${name}` }]),
  ),
  additionalProperties: false,
  $defs: rebased,
};
const banner = `/**
 * Generated from the gateway's AsyncAPI document ${document.info.title} ${document.info.version}
 * (AsyncAPI ${document.asyncapi}) by scripts/generate-asyncapi.mjs. Do not edit: change the
 * gateway's models, then regenerate (README: "Regenerating the types").
 */`;
const source = await compile(root, "AsyncAPIDocument", {
  bannerComment: banner,
  additionalProperties: false,
  unreachableDefinitions: true,
  strictIndexSignatures: true,
  style: { printWidth: 100 },
});
writeFileSync(output, source);
