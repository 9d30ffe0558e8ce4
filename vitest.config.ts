import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      // Test hooks are compiled into test images only; a unit test runs the release's code.
      {
        define: { ANCHOR_TEST_HOOKS: "false" },
        test: { name: "unit", include: ["test/unit/**/*.test.ts"], sequence: { groupOrder: 0 } },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/integration/global-setup.ts"],
          sequence: { groupOrder: 1 },
          // Each file boots its own VMs under TCG; two files at once fill the two cores.
          maxWorkers: 2,
          testTimeout: 240_000,
          hookTimeout: 240_000,
        },
      },
    ],
  },
});
