/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The dashboard is served by `tom serve` at `/`; every API call uses a relative URL.
// During `npm run dev`, requests to the API are proxied to a running TOM (TOM_URL).
const tomUrl = process.env.TOM_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "./",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: true,
    target: "es2022",
  },
  worker: { format: "es" },
  server: {
    proxy: {
      "/api": tomUrl,
      "/readyz": tomUrl,
      "/healthz": tomUrl,
      "/ws": { target: tomUrl, ws: true },
    },
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./tests/setup.ts"],
    include: ["tests/**/*.test.{ts,tsx}"],
    css: false,
  },
});
