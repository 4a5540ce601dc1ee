import { hashBucketSize, hashMaxSize, serverNamesHashBucketSize } from '../../src/render/hash-sizes.js';

describe('hash sizes', () => {
  it('gives a power-of-two bucket of at least 64 that holds the longest name and its pointers', () => {
    expect(hashBucketSize(0)).toBe(64);
    // 8 + align(62 + 2, 8) = 72, + 8 = 80 → 128: longest + 2 alone (64) would not fit.
    expect(hashBucketSize(62)).toBe(128);
    expect(hashBucketSize(62, 4)).toBe(512);
    expect(hashMaxSize(10)).toBe(512);
    expect(hashMaxSize(1000)).toBe(2048);
  });

  it('sizes server-name buckets for four names once there are many names, unless configured', () => {
    const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `h${i}.example.test`);
    expect(serverNamesHashBucketSize(0, names(256))).toBe(hashBucketSize('h255.example.test'.length));
    expect(serverNamesHashBucketSize(0, names(257))).toBe(hashBucketSize('h256.example.test'.length, 4));
    expect(serverNamesHashBucketSize(96, names(3))).toBe(96);
  });
});
