// The AppSync schema's text for serverless.yml (${file(appsync/schema.js):sdl}): osls reads
// YAML and JSON files, and a JavaScript one for anything else.
'use strict';
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

module.exports.sdl = () => readFileSync(join(__dirname, 'schema.graphql'), 'utf8');
