// Sizes of nginx's name hashes (server names, map keys), so that `nginx -t` neither fails nor spends
// seconds searching for a size that fits.
import { positiveInt } from './quote.js';

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * Bucket size nginx needs to hash names up to `longest` chars: each element takes
 * sizeof(void*) + align(len + 2, sizeof(void*)) and a bucket ends with one more pointer
 * (ngx_hash_init), so longest + 2 alone is not enough. Power of two, at least 64.
 */
export function hashBucketSize(longest: number, perBucket = 1): number {
  const ptr = 8;
  const element = ptr + Math.ceil((longest + 2) / ptr) * ptr;
  return Math.max(64, nextPowerOfTwo(perBucket * element + ptr));
}

export function hashMaxSize(count: number): number {
  return Math.max(512, nextPowerOfTwo(count * 2));
}

/**
 * Names per bucket the server-name hash is sized for. With room for one name per bucket, thousands of
 * names cannot be placed in max_size buckets without a collision, so nginx tries the last 1 000 sizes
 * one by one, warns "could not build optimal server_names_hash" and ignores the bucket size: ~1 s of
 * every config load at 10 000 services. Four per bucket fits on the first size tried.
 */
const SERVER_NAMES_PER_BUCKET = 4;
/** Below this many names the one-per-bucket size fits and is kept. */
const SERVER_NAMES_SMALL = 256;

/** server_names_hash_bucket_size: the configured one (ServerNamesHashBucketSize > 0), else one that fits the names. */
export function serverNamesHashBucketSize(configured: number, serverNames: readonly string[]): number {
  const longest = serverNames.reduce((m, n) => Math.max(m, n.length), 0);
  return configured > 0 ? positiveInt(configured, 'ServerNamesHashBucketSize') : hashBucketSize(longest, serverNames.length > SERVER_NAMES_SMALL ? SERVER_NAMES_PER_BUCKET : 1);
}
