import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: { conditions: ["@operatorkit/source"] },
  // tests run in Vite's server environment, which takes its own conditions: without this the
  // examples' self-reference `import … from "operatorkit"` asks for dist/ instead of src/
  ssr: { resolve: { conditions: ["@operatorkit/source"] } },
  test: {
    include: ["test/**/*.test.ts", "examples/**/*.test.ts"],
    globalSetup: ["test/globalSetup.ts"],
    // each integration file starts its own control plane (~300 MB, busy for a few seconds): two at a time
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ["default"]
  }
})
