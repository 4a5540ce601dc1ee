// The extension stores configs over ~1 MB gzipped in the config object mounted as the bootstrap.
import { gzipSync } from 'node:zlib';
import { decodeBootstrap } from '../src/installer.js';

describe('bootstrap decoding', () => {
  it('passes plain configs through and gunzips gzipped ones', () => {
    const text = Buffer.from('events {}\nhttp {}\n');
    expect(decodeBootstrap(text)).toEqual(text);
    expect(decodeBootstrap(gzipSync(text))).toEqual(text);
  });
});
