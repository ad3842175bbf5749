/**
 * Browser mode: `npm run serve [-- --port N] [-- --host 0.0.0.0]`. The same router, schemas and
 * handlers as the Electron app, over a WebSocket guarded by a per-launch token.
 */
import { join } from 'node:path'
import { startBrowserServer } from './browser-server'
import { forkLauncher } from './jobs/job-process'
import { defaultDataDir } from './paths'
import { createServices } from './services'

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  if (i >= 0) return process.argv[i + 1]
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`))
  return eq?.slice(name.length + 3)
}

async function main(): Promise<void> {
  const dataDir = defaultDataDir()
  const services = createServices({
    dataDir,
    mode: 'browser',
    launcher: forkLauncher,
    workerScript: join(__dirname, 'job-worker.js'),
  })
  const host = arg('host') ?? '127.0.0.1'
  const server = await startBrowserServer({
    router: services.router,
    hub: services.hub,
    staticDir: join(__dirname, '../renderer'),
    host,
    port: Number(arg('port') ?? 0),
    token: process.env.TUNEWISE_TOKEN || undefined,
  })
  const where =
    host === '127.0.0.1' || host === 'localhost'
      ? ''
      : ` (listening on ${host}; use this machine's address from elsewhere)`
  console.log(`Tunewise is running in browser mode${where}. Open this URL:`)
  console.log(server.url)
  console.log(`Data directory: ${dataDir}`)
  const stop = (): void => {
    services.close()
    void server.close().then(() => process.exit(0))
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err))
  process.exit(1)
})
