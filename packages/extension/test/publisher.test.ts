// Config objects: swarm refuses 1 024 000 bytes or more, so large configs are stored gzipped.
import { gunzipSync } from 'node:zlib';
import { PLAIN_CONFIG_MAX_BYTES, decodeConfigData, encodeConfigData } from '../src/publisher.js';

describe('config object data', () => {
  it('keeps small configs as plain text', () => {
    const text = 'events {}\nhttp {}\n';
    expect(encodeConfigData(text).toString('utf8')).toBe(text);
    expect(decodeConfigData(encodeConfigData(text))).toBe(text);
  });

  it('gzips configs too large for a swarm config object and reads them back', () => {
    const block = (i: number) => `    upstream u_svc${i}_example_test_${String(i).padStart(8, '0')} {\n        server 10.0.${i % 250}.${i % 200}:8080;\n    }\n`;
    const text = `http {\n${Array.from({ length: 20_000 }, (_, i) => block(i)).join('')}}\n`;
    expect(Buffer.byteLength(text)).toBeGreaterThan(PLAIN_CONFIG_MAX_BYTES);
    const data = encodeConfigData(text);
    expect(data.length).toBeLessThan(1_024_000);
    expect(gunzipSync(data).toString('utf8')).toBe(text);
    expect(decodeConfigData(data)).toBe(text);
  });
});
