/**
 * Browser mode: `npm run serve [-- --port N] [-- --host ADDRESS --allow-remote]`. The same router,
 * schemas and handlers as the Electron app, over a WebSocket guarded by a per-launch token.
 * A host other than loopback needs `--allow-remote`: the server speaks plain HTTP, so anyone who
 * can see the traffic can read the token.
 */
import { join } from 'node:path'
import { isLoopbackHost, launchProblem, remoteWarning, startBrowserServer, type BrowserServer } from './browser-server'
import { forkLauncher } from './tasks/worker-process'
import { defaultDataDir } from './paths'
import { createServices } from './services'

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  if (i >= 0) return process.argv[i + 1]
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`))
  return eq?.slice(name.length + 3)
}

async function main(): Promise<void> {
  const host = arg('host') ?? '127.0.0.1'
  const allowRemote = process.argv.includes('--allow-remote')
  const token = process.env.TUNEWISE_TOKEN || undefined
  const port = Number(arg('port') ?? 0)
  // Checked before anything (database, jobs, socket) is opened.
  const problem = launchProblem({ host, allowRemote, token, port })
  if (problem) {
    console.error(problem)
    process.exit(2)
  }
  const remote = !isLoopbackHost(host)
  if (remote) console.warn(remoteWarning(host))

  const dataDir = defaultDataDir()
  const services = createServices({
    dataDir,
    mode: 'browser',
    launcher: forkLauncher,
    workerScript: join(__dirname, 'job-worker.js'),
  })
  let server: BrowserServer
  try {
    server = await startBrowserServer({
      router: services.router,
      hub: services.hub,
      staticDir: join(__dirname, '../renderer'),
      host,
      allowRemote,
      port,
      token,
    })
  } catch (err) {
    services.close()
    throw err
  }
  const where = remote ? ` (listening on ${host}; use this machine's address from elsewhere)` : ''
  console.log(`Tunewise is running in browser mode${where}. Open this URL:`)
  console.log(server.url)
  console.log(`Data directory: ${dataDir}`)
  if (services.readOnly)
    console.log('Another Tunewise is using this data folder: this one is read-only (History and Compare).')
  let stopping = false
  // Ctrl-C: a running training is cancelled and recorded 'cancelled' before the server exits.
  const stop = (): void => {
    if (stopping) return
    stopping = true
    const { runId } = services.jobs.status()
    if (runId !== null) {
      console.log(`Cancelling run ${runId}…`)
      services.jobs.cancel(runId)
    }
    void Promise.race([services.jobs.whenIdle(), new Promise((ok) => setTimeout(ok, 15_000))])
      .then(() => services.close())
      .then(() => server.close())
      .then(() => process.exit(0))
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err))
  process.exit(1)
})
