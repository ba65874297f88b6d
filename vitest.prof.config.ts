import { defineConfig } from 'vitest/config';
export default defineConfig({ test: { include: ['test/simulation/*.sim.test.ts'], setupFiles: ['test/zz-prof-setup.ts'], testTimeout: 600000 } });
