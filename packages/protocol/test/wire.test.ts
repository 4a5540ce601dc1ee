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
  const service = { id: 'x1', name: 'web', cluster: '', status: 'disabled', hosts: ['a.test'], servers: 0, errors: [{ code: 'ERR_NGINX_REJECTED', severity: 'error', key: 'com.docker.lb.*', message: 'left out' }], warnings: [] };
  expect(read({ services: [service] }).services[0]!.errors[0]!.code).toBe('ERR_NGINX_REJECTED');
  expect(() => read({ services: [{ ...service, status: 'on' }] })).toThrow(WireError);
  expect(() => read({ services: [{ ...service, servers: -1 }] })).toThrow(/core's status does not match its schema: \/services\/0\/servers/);
  expect(() => read({ services: [{ ...service, errors: [{ ...service.errors[0], code: 'oops' }] }] })).toThrow(/\/services\/0\/errors\/0\/code/);
});

test('the payload envelope needs a version, the extension section and the model top level', () => {
  const read = wireValidator(wire.extensionPayloadSchema, 'payload');
  const model = { cluster: '', virtualHosts: [], passthrough: [], services: [], redirects: [] };
  const extension = { ServiceName: 'ext', ProxyServiceName: 'proxy', Image: 'x' };
  expect(read({ version: 'abc', extension, model }).version).toBe('abc');
  expect(() => read({ version: '', extension, model })).toThrow(/\/version/);
  expect(() => read({ version: 'abc', extension: 'default', model })).toThrow(/\/extension/);
  expect(() => read({ version: 'abc', extension, model: { ...model, virtualHosts: {} } })).toThrow(/\/model\/virtualHosts/);
});

test('an exclusion carries one of the three exclusion codes', () => {
  const read = wireValidator(wire.exclusionReportSchema, 'exclusions');
  expect(read({ modelVersion: 'v', excluded: [{ service: 's', code: 'ERR_CERT_INVALID', reason: 'r' }] }).excluded).toHaveLength(1);
  expect(() => read({ modelVersion: 'v', excluded: [{ service: 's', code: 'ERR_OTHER', reason: 'r' }] })).toThrow(/\/excluded\/0\/code/);
});
