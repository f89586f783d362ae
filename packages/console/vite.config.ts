// The console's build: `vite build` writes dist/ (index.html + content-hashed assets/), which the API
// serves at /console (packages/api/src/routes/console.ts). build.mjs runs the same config from Node.
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const root = dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root,
  base: "/console/",
  // Preact's JSX runtime through Vite's own transform: no framework plugin needed.
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  publicDir: false,
  clearScreen: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // Every asset is a file of its own (never a data: URL inlined into JS or CSS).
    assetsInlineLimit: 0,
    // The browsers the console supports all have <link rel="modulepreload">; no polyfill code.
    modulePreload: { polyfill: false },
    rolldownOptions: {
      treeshake: {
        // The workspace packages the app imports from (the typed client, the core's helpers) have no
        // import-time side effects: what the app does not use, zod schemas included, is left out.
        moduleSideEffects: (id: string) => !/\/packages\/(client|contract|core)\/src\//.test(id),
      },
    },
  },
});
