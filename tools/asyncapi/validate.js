#!/usr/bin/env node
// Validates an AsyncAPI document with the AsyncAPI parser (@asyncapi/parser,
// the library behind `asyncapi validate`): the spec's JSON Schema, its
// semantic rules and the referenced payload schemas, resolved from disk.
// Usage: node validate.js [FILE]   (default ../../contracts/asyncapi.yaml)
// Exit 0 when the document parses without an error-level diagnostic, 1
// otherwise; every diagnostic is printed with its path.
'use strict';

const path = require('path');
const { Parser, fromFile, DiagnosticSeverity } = require('@asyncapi/parser');

const severities = { 0: 'error', 1: 'warning', 2: 'info', 3: 'hint' };

async function main() {
  const file = path.resolve(process.argv[2] || path.join(__dirname, '..', '..', 'contracts', 'asyncapi.yaml'));
  const parser = new Parser();
  const { document, diagnostics } = await fromFile(parser, file).parse();
  let errors = 0;
  for (const d of diagnostics) {
    if (d.severity === DiagnosticSeverity.Error) errors++;
    const where = d.path && d.path.length ? d.path.join('.') : '(document)';
    console.log(`${file}: ${severities[d.severity] || d.severity}: ${where}: ${d.message} [${d.code}]`);
  }
  if (!document || errors > 0) {
    console.log(`${file}: invalid (${errors} errors)`);
    return 1;
  }
  // The payloads are $refs to contracts/schemas: check that they resolved
  // to the schemas themselves (a schema with properties), not to nothing.
  let payloads = 0;
  for (const m of document.allMessages()) {
    const p = m.payload();
    if (p && p.title && Object.keys(p.properties() || {}).length > 0) payloads++;
  }
  if (payloads === 0) {
    console.log(`${file}: no message payload resolved to a JSON Schema with properties`);
    return 1;
  }
  console.log(`${file}: valid AsyncAPI ${document.version()} (${document.allChannels().length} channels, ` +
    `${document.allOperations().length} operations, ${document.allMessages().length} messages, ` +
    `${payloads} payloads resolved from schema files)`);
  return 0;
}

main().then((code) => process.exit(code), (err) => {
  console.error(`asyncapi validate: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
