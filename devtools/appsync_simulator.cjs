'use strict';
// The AppSync API on the local simulator (npm @aws-amplify/amplify-appsync-simulator):
// the generated schema (appsync/schema.graphql), every Query field resolved by the Python
// handler through devtools/appsync_bridge.py, the publications as AppSync's NONE data
// source, queries and mutations at /graphql and the real-time protocol at
// /graphql/realtime. Started by scripts/aws_local.py and the tests; prints one JSON line
// {"appsyncUrl", "appsyncRealtimeUrl"} once it listens, and runs until SIGTERM.
//
// Environment: APPSYNC_SCHEMA (path), APPSYNC_BRIDGE (the bridge's URL), APPSYNC_API_KEY
// (the flightdata key the simulator takes; the bridge's authorizer checks it as AppSync's
// Lambda authorizer would) and APPSYNC_PORT (0: a free one).
//
// What differs from AppSync: the simulator has no Lambda authorization mode, so it takes
// requests with that one key (x-api-key) or IAM, and the resolver asks the authorizer for
// the identity; and it does not evaluate enhanced subscription filters, so each
// subscription here asks the resolver for its filter at subscribe time, as AppSync's
// subscription resolver does, and applies it to each publication below (eq, in,
// containsAny), with AppSync's own filtering on scalar arguments equal to payload fields.

const { readFileSync } = require('node:fs');
const { AmplifyAppSyncSimulator } = require('@aws-amplify/amplify-appsync-simulator');
const { parse } = require('graphql');
const { withFilter } = require('graphql-subscriptions');

const env = process.env;
const bridge = env.APPSYNC_BRIDGE;
const apiKey = env.APPSYNC_API_KEY;
// The key stands in for the Lambda authorizer, so the types it may read say so.
const schema = readFileSync(env.APPSYNC_SCHEMA, 'utf8').replaceAll('@aws_lambda', '@aws_api_key');
const AUTH_TTL_MS = 1000;

async function call(path, body) {
  const response = await fetch(`${bridge}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return response.json();
}

const identities = new Map();
async function identityOf(headers) {
  const token = (headers || {})['x-api-key'] || '';
  const known = identities.get(token);
  if (known && known.until > Date.now()) return known.identity;
  const answer = await call('/authorize', { authorizationToken: token, requestContext: {} });
  if (!answer.isAuthorized) throw new Error('UnauthorizedException: the API key was refused');
  const identity = { resolverContext: answer.resolverContext };
  identities.set(token, { identity, until: Date.now() + AUTH_TTL_MS });
  return identity;
}

async function resolve(payload) {
  const answer = await call('/resolve', payload);
  if (answer.error) {
    const error = new Error(answer.error.message);
    error.type = answer.error.type;
    throw error;
  }
  return answer.data;
}

async function invoke(payload) {
  return resolve({ ...payload, identity: await identityOf(payload.request.headers) });
}

const RESOLVER_REQUEST = `{"version": "2018-05-29", "operation": "Invoke", "payload": {
  "arguments": $util.toJson($ctx.arguments), "identity": null, "source": null,
  "request": $util.toJson($ctx.request), "info": $util.toJson($ctx.info),
  "prev": null, "stash": {}}}`;
const RESOLVER_RESPONSE = `#if($ctx.error)$util.error($ctx.error.message, $ctx.error.type)#end
$util.toJson($ctx.result)`;
const publishRequest = (value, key) => `#set($body = $ctx.args.${value})
#if($util.isString($body))#set($body = $util.parseJson($body))#end
$util.qr($body.put("${key}", $ctx.args.${key}))
{"version": "2018-05-29", "payload": $util.toJson($body)}`;

function queryFields() {
  const query = parse(schema).definitions.find(
    (d) => d.kind === 'ObjectTypeDefinition' && d.name.value === 'Query',
  );
  return query.fields.map((f) => f.name.value);
}

function matches(filter, payload) {
  const value = payload[filter.fieldName];
  switch (filter.operator) {
    case 'eq': return value === filter.value;
    case 'ne': return value !== filter.value;
    case 'in': return filter.value.includes(value);
    case 'notIn': return !filter.value.includes(value);
    case 'containsAny': return Array.isArray(value) && value.some((v) => filter.value.includes(v));
    default: throw new Error(`filter operator ${filter.operator} is not simulated`);
  }
}

function accepts(payload, args, enhanced) {
  if (payload == null) return false;
  for (const [name, value] of Object.entries(args || {})) {
    if (value !== null && typeof value !== 'object' && payload[name] !== value) return false;
  }
  if (!enhanced) return true;
  return enhanced.filterGroup.some((group) => group.filters.every((f) => matches(f, payload)));
}

function filterSubscriptions(simulator) {
  const fields = simulator.schema.getSubscriptionType().getFields();
  for (const [name, field] of Object.entries(fields)) {
    field.subscribe = async (source, args, context, info) => {
      const enhanced = await resolve({
        arguments: args, identity: null, source: null, request: { headers: {} },
        info: { parentTypeName: 'Subscription', fieldName: name, variables: info.variableValues,
                selectionSetList: [], selectionSetGraphQL: '' },
        prev: null, stash: {},
      });
      const iterator = () => simulator.pubsub.asyncIterator(name);
      return withFilter(iterator, (payload) => accepts(payload, args, enhanced))();
    };
  }
}

async function main() {
  const simulator = new AmplifyAppSyncSimulator({ port: Number(env.APPSYNC_PORT || 0) });
  const resolvers = queryFields().map((fieldName) => ({
    kind: 'UNIT', typeName: 'Query', fieldName, dataSourceName: 'resolver',
    requestMappingTemplate: RESOLVER_REQUEST, responseMappingTemplate: RESOLVER_RESPONSE,
  }));
  for (const [fieldName, value, key] of [
    ['publishFlightUpdates', 'batch', 'tile'], ['publishTrackUpdate', 'point', 'icao24'],
  ]) {
    resolvers.push({
      kind: 'UNIT', typeName: 'Mutation', fieldName, dataSourceName: 'publications',
      requestMappingTemplate: publishRequest(value, key),
      responseMappingTemplate: '$util.toJson($ctx.result)',
    });
  }
  simulator.init({
    schema: { content: schema },
    resolvers,
    dataSources: [
      { type: 'AWS_LAMBDA', name: 'resolver', invoke },
      { type: 'NONE', name: 'publications' },
    ],
    appSync: {
      name: 'flightdata-local',
      defaultAuthenticationType: { authenticationType: 'API_KEY' },
      apiKey,
      additionalAuthenticationProviders: [{ authenticationType: 'AWS_IAM' }],
    },
  });
  filterSubscriptions(simulator);
  simulator.pubsub.ee.setMaxListeners(0); // one listener per subscription, thousands here
  await simulator.start();
  const port = new URL(simulator.localhostUrl).port;
  const url = `http://127.0.0.1:${port}/graphql`;
  process.stdout.write(`${JSON.stringify({
    appsyncUrl: url, appsyncRealtimeUrl: `${url.replace(/^http/, 'ws')}/realtime`,
  })}\n`);
  process.on('SIGTERM', () => simulator.stop().finally(() => process.exit(0)));
  process.on('SIGINT', () => simulator.stop().finally(() => process.exit(0)));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
