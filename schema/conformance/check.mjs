// Run every conformance vector through ajv 8 (draft-07, strict mode) and print one JSON line
// per vector: {"file", "valid", "pointers"}. `pointers` are the JSON pointers ajv blames; for a
// missing property (required / dependencies) the pointer of the property that is missing.
//
// Used by check.py (which compares ajv with python-jsonschema and jsonschema-rs); run alone it
// prints the lines and exits 0. Usage: node schema/conformance/check.mjs
import Ajv from "ajv";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const schemaDir = join(here, "..");
const vectorDir = join(schemaDir, "vectors");
const names = ["connection", "connection-launch", "registration", "port-report"];

const ajv = new Ajv({ strict: true, allErrors: true });
const validators = {};
for (const name of names) {
  const schema = JSON.parse(readFileSync(join(schemaDir, `${name}.schema.json`), "utf8"));
  validators[name] = ajv.compile(schema);
}

function escape(token) {
  return String(token).replaceAll("~", "~0").replaceAll("/", "~1");
}

function pointersOf(errors) {
  const out = new Set();
  for (const e of errors ?? []) {
    out.add(e.instancePath);
    if (e.keyword === "required" || e.keyword === "dependencies") {
      out.add(`${e.instancePath}/${escape(e.params.missingProperty)}`);
    }
  }
  return [...out].sort();
}

for (const sub of ["valid", "invalid"]) {
  for (const file of readdirSync(join(vectorDir, sub)).sort()) {
    if (!file.endsWith(".json")) continue;
    const vector = JSON.parse(readFileSync(join(vectorDir, sub, file), "utf8"));
    const validate = validators[vector.schema];
    if (validate === undefined) {
      console.log(JSON.stringify({ file: `${sub}/${file}`, error: `unknown schema ${vector.schema}` }));
      continue;
    }
    const valid = validate(vector.document);
    console.log(JSON.stringify({ file: `${sub}/${file}`, valid, pointers: pointersOf(validate.errors) }));
  }
}
