// The wire schemas compile in strict ajv, accept the bodies the services send and refuse others with a
// message that names the body and the field.
import { Ajv } from 'ajv';
import * as wire from '../src/wire.js';
import { apiErrorBodySchema } from '../src/errors.js';
import { WireError, wireValidator } from '../src/validate.js';

const schemas = Object.entries({ ...wire, apiErrorBodySchema }).filter(([name]) => name.endsWith('Schema'));

test.each(schemas)('%s compiles in strict ajv', (_name, schema) => {
  expect(() => new Ajv({ strict: true, allowUnionTypes: true }).compile(schema as object)).not.toThrow();
});

test('a status body as core sends it is accepted; a wrong one is refused naming the field', () => {
  const read = wireValidator(wire.coreStatusBodySchema, "core's status");
  const service = {
    id: 'x1',
    name: 'web',
    cluster: '',
    status: 'disabled',
    hosts: ['a.test'],
    servers: 0,
    errors: [{ code: 'ERR_NGINX_REJECTED', severity: 'error', key: 'com.docker.lb.*', message: 'left out' }],
    warnings: [],
  };
  expect(read({ services: [service] }).services[0]!.errors[0]!.code).toBe('ERR_NGINX_REJECTED');
  expect(() => read({ services: [{ ...service, status: 'on' }] })).toThrow(WireError);
  expect(() => read({ services: [{ ...service, servers: -1 }] })).toThrow(/core's status does not match its schema: \/services\/0\/servers/);
  expect(() => read({ services: [{ ...service, errors: [{ ...service.errors[0], code: 'oops' }] }] })).toThrow(/\/services\/0\/errors\/0\/code/);
});

test('the payload needs a version, the extension section and the whole model', () => {
  const read = wireValidator(wire.extensionPayloadSchema, 'payload');
  const model = { cluster: '', virtualHosts: [], passthrough: [], services: [], redirects: [], proxyNetworks: [], proxySecrets: [] };
  const extension = { ServiceName: 'ext', ProxyServiceName: 'proxy', Image: 'x' };
  expect(read({ version: 'abc', extension, model }).version).toBe('abc');
  expect(() => read({ version: '', extension, model })).toThrow(/\/version/);
  expect(() => read({ version: 'abc', extension: 'default', model })).toThrow(/\/extension/);
  expect(() => read({ version: 'abc', extension, model: { ...model, virtualHosts: {} } })).toThrow(/\/model\/virtualHosts/);
  expect(() => read({ version: 'abc', extension, model: { ...model, proxySecrets: undefined } })).toThrow(/\/model must have required property 'proxySecrets'/);
  const upstream = { name: 'u_1_a', servers: [{ addr: '10.0.0.2', port: 80, service: 'a' }], balance: 'round_robin', tls: { enabled: false, verify: false }, services: ['a'] };
  const host = { host: 'a.test', sslOnly: false, locations: [{ path: '/', rewrite: false, websocketEndpoints: [], upstream }] };
  expect(read({ version: 'abc', extension, model: { ...model, virtualHosts: [host] } }).model.virtualHosts[0]!.locations[0]!.upstream.servers[0]!.port).toBe(80);
  const badServer = { ...upstream, servers: [{ addr: '10.0.0.2', port: 0, service: 'a' }] };
  expect(() => read({ version: 'abc', extension, model: { ...model, virtualHosts: [{ ...host, locations: [{ ...host.locations[0], upstream: badServer }] }] } })).toThrow(
    /\/model\/virtualHosts\/0\/locations\/0\/upstream\/servers\/0\/port must be >= 1/,
  );
});

test('an exclusion carries one of the three exclusion codes', () => {
  const read = wireValidator(wire.exclusionReportSchema, 'exclusions');
  expect(read({ modelVersion: 'v', excluded: [{ service: 's', code: 'ERR_CERT_INVALID', reason: 'r' }] }).excluded).toHaveLength(1);
  expect(() => read({ modelVersion: 'v', excluded: [{ service: 's', code: 'ERR_OTHER', reason: 'r' }] })).toThrow(/\/excluded\/0\/code/);
});
