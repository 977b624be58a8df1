import { defineConfig } from 'vitest/config';

// Unit tests: pure helpers (formatting, time zones, live state), in Node.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
    // Not the tenant zone of any test: helpers must follow the tenant's zone, not the machine's.
    env: { TZ: 'Pacific/Auckland' },
  },
});
