import { defineConfig } from "vite";

// Built into dist/: index.html (served by the gateway at `/`) and hashed files under dist/ui/
// (served at `/ui/…`, the one prefix the gateway keeps for the dashboard's static files).
export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    assetsDir: "ui",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
  },
  server: {
    // `npm run dev` against a gateway on the default port.
    proxy: {
      "/v1": { target: "http://127.0.0.1:8000", ws: true },
    },
  },
});
