import type { RefreshTokenStore } from '../refresh-token-store.js';
import { nodeFs } from './node-fs.js';

/**
 * A {@link RefreshTokenStore} in one file (Node): what `refreshTokenMint` saves there is already
 * sealed; each save writes a new file with mode 0600, flushes it to disk and renames it over the
 * old one, so a crash mid-save leaves the previous value whole. A missing file is no value.
 *
 * @example
 * ```ts
 * const mint = refreshTokenMint({ tokenEndpoint, clientId, refreshToken, store: fileStore('/var/lib/app/refresh-token'), encryptionKey });
 * ```
 */
export function fileStore(path: string): RefreshTokenStore {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('fileStore: path must be a non-empty string');
  return {
    async load() {
      const fs = await nodeFs();
      try {
        return await fs.readFile(path, 'utf8');
      } catch (error) {
        if ((error as { code?: unknown }).code === 'ENOENT') return null;
        throw error;
      }
    },
    async save(sealed) {
      const fs = await nodeFs();
      const temporary = `${path}.${crypto.randomUUID()}.tmp`;
      const handle = await fs.open(temporary, 'w', 0o600);
      try {
        await handle.writeFile(sealed, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(temporary, path);
    },
  };
}
