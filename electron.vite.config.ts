import { resolve } from 'node:path'
import { defineConfig } from 'electron-vite'
import { svelte } from '@sveltejs/vite-plugin-svelte'

export default defineConfig({
  main: {
    build: {
      rollupOptions: {
        input: {
          // Electron main process (lifecycle and window only).
          index: resolve(__dirname, 'src/main/index.ts'),
          // Browser mode: the same router over a WebSocket, no Electron needed.
          serve: resolve(__dirname, 'src/main/serve.ts'),
          // Command-line interface.
          cli: resolve(__dirname, 'src/main/cli.ts'),
          // A training job's child process.
          'job-worker': resolve(__dirname, 'src/main/jobs/job-worker.ts'),
          // A feature-extraction shard (WASM is single-threaded: one process per core).
          'extract-worker': resolve(__dirname, 'src/main/ml/train/extract-worker.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      rollupOptions: { input: { index: resolve(__dirname, 'src/preload/index.ts') } },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src/renderer'),
    build: {
      rollupOptions: { input: { index: resolve(__dirname, 'src/renderer/index.html') } },
    },
    resolve: { alias: { $shared: resolve(__dirname, 'src/shared') } },
    plugins: [svelte()],
  },
})
