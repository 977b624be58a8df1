import { defineConfig } from 'vitest/config';

// `npm run perf`: measurements of the dashboard (first-load size, board frame times), printed.
export default defineConfig({
  test: {
    include: ['perf/**/*.perf.ts'],
    environment: 'node',
    testTimeout: 600_000,
    hookTimeout: 180_000,
    globalSetup: ['e2e/global-setup.ts'],
  },
});
