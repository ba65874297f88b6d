/**
 * WebCrypto made deterministic for the simulations: the library's digests, AES-GCM seals and UUIDs
 * are computed synchronously (node:crypto) and resolve in a microtask, and UUIDs come from the
 * schedule's seed, so one seed replays one schedule exactly. The algorithms are the same (SHA-256,
 * AES-256-GCM with the caller's IV and additional data): only when the answer arrives changes,
 * since the real ones finish on a thread pool at a time no simulated clock controls.
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';

interface FakeKey {
  readonly raw: Uint8Array;
  readonly algorithm: { name: 'AES-GCM'; length: 256 };
}

const bytes = (data: BufferSource): Buffer => (ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data as ArrayBuffer));

/**
 * Replaces `crypto.subtle.digest`, AES-GCM `importKey`/`generateKey`/`encrypt`/`decrypt` and
 * `crypto.randomUUID` until the returned function restores them; `random` feeds the UUIDs.
 */
export function deterministicCrypto(random: () => number): () => void {
  const subtle = crypto.subtle as unknown as Record<string, unknown>;
  const saved = { digest: subtle.digest, importKey: subtle.importKey, generateKey: subtle.generateKey, encrypt: subtle.encrypt, decrypt: subtle.decrypt, randomUUID: crypto.randomUUID };
  subtle.digest = (algorithm: string, data: BufferSource) => {
    if (algorithm !== 'SHA-256') throw new Error(`simulation: ${algorithm} is not simulated`);
    const digest = createHash('sha256').update(bytes(data)).digest();
    return Promise.resolve(digest.buffer.slice(digest.byteOffset, digest.byteOffset + digest.byteLength));
  };
  subtle.importKey = (format: string, key: BufferSource) => {
    if (format !== 'raw') throw new Error('simulation: only raw keys');
    return Promise.resolve({ raw: new Uint8Array(bytes(key)), algorithm: { name: 'AES-GCM', length: 256 } } satisfies FakeKey);
  };
  subtle.generateKey = () => Promise.resolve({ raw: Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256)), algorithm: { name: 'AES-GCM', length: 256 } } satisfies FakeKey);
  subtle.encrypt = (params: { iv: BufferSource; additionalData?: BufferSource }, key: FakeKey, data: BufferSource) => {
    const cipher = createCipheriv('aes-256-gcm', key.raw, bytes(params.iv));
    if (params.additionalData !== undefined) cipher.setAAD(bytes(params.additionalData));
    const sealed = Buffer.concat([cipher.update(bytes(data)), cipher.final(), cipher.getAuthTag()]);
    return Promise.resolve(sealed.buffer.slice(sealed.byteOffset, sealed.byteOffset + sealed.byteLength));
  };
  subtle.decrypt = (params: { iv: BufferSource; additionalData?: BufferSource }, key: FakeKey, data: BufferSource) => {
    try {
      const all = bytes(data);
      const decipher = createDecipheriv('aes-256-gcm', key.raw, bytes(params.iv));
      if (params.additionalData !== undefined) decipher.setAAD(bytes(params.additionalData));
      decipher.setAuthTag(all.subarray(all.length - 16));
      const plain = Buffer.concat([decipher.update(all.subarray(0, all.length - 16)), decipher.final()]);
      return Promise.resolve(plain.buffer.slice(plain.byteOffset, plain.byteOffset + plain.byteLength));
    } catch (error) {
      return Promise.reject(error);
    }
  };
  (crypto as { randomUUID: () => string }).randomUUID = () => {
    const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  };
  return () => {
    Object.assign(subtle, { digest: saved.digest, importKey: saved.importKey, generateKey: saved.generateKey, encrypt: saved.encrypt, decrypt: saved.decrypt });
    (crypto as { randomUUID: () => string }).randomUUID = saved.randomUUID;
  };
}

/** A small seeded PRNG (mulberry32): the schedules' only source of chance. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
