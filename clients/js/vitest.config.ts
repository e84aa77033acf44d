import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
    // Property tests run many examples; a loaded 2-core CI machine must not turn them red.
    testTimeout: 60_000,
  },
});
