import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The JSON report is what .ci/run counts ("N passed, N failed").
    reporters: ["default", ["json", { outputFile: ".vitest-report.json" }]],
    setupFiles: ["test/setup/no-network.ts"],
    typecheck: {
      enabled: true,
      include: ["test/**/*.test-d.ts"],
      tsconfig: "./tsconfig.json",
    },
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
