import { defineConfig } from 'vitest/config';

// Browser tests: the real assetlog binary, the embedded dashboard, headless Chromium.
// One file at a time: the machine has two cores and each file starts a server and a browser.
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.ts'],
    environment: 'node',
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    globalSetup: ['e2e/global-setup.ts'],
  },
});
