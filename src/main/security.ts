/**
 * Security rules for every page Tunewise shows, kept free of electron imports so they are tested under plain
 * Node: the Content-Security-Policy, the `app://` protocol that serves the built renderer, which URL counts as
 * our own page, and which web pages a link may open in the user's browser.
 */
import { readFile, stat } from 'node:fs/promises'
import { extname } from 'node:path'
import { PathRefusedError, safePath } from './safe-path'

/**
 * The Content-Security-Policy for every page Tunewise shows (Electron's app:// responses, the dev server's and
 * browser mode's): only our own scripts, no eval, no remote anything. Images may be data: or blob: URLs
 * (thumbnails), and so may sound (a dataset's clips come as data: URLs, a recording chosen on Results plays from a
 * blob: URL); connect-src 'self' covers the browser-mode WebSocket (same origin).
 *
 * style-src has no 'unsafe-inline'. That keyword would only be needed for `<style>` elements and `style="…"`
 * attributes that the browser parses from markup or that script sets with setAttribute('style'). The build has
 * neither: Svelte moves every component's `<style>` block into the CSS file, and its `style:` directives (the
 * only dynamic styles here) write `element.style` through the CSSOM, which CSP does not govern. uPlot likewise
 * positions its elements through `element.style` and ships its rules as a CSS file that the build bundles.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  'media-src data: blob:',
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ')

/**
 * Development only (electron-vite's dev server, ELECTRON_RENDERER_URL): Vite's dev client injects every
 * stylesheet as a `<style>` element for hot reload, which needs 'unsafe-inline'. The packaged app and browser
 * mode serve built files and never send this.
 */
export const DEV_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
  "style-src 'self'",
  "style-src 'self' 'unsafe-inline'",
)

/**
 * The scheme the packaged renderer is loaded from. A privileged standard scheme gives the page a real origin
 * (`app://tunewise`), so 'self' in the CSP means our files only, where file:// would mean the whole disk.
 */
export const APP_SCHEME = 'app'
/** The one host `app://` answers for. */
export const APP_HOST = 'tunewise'
/** The renderer's entry page. */
export const APP_INDEX_URL = `${APP_SCHEME}://${APP_HOST}/index.html`
/** Privileges for `protocol.registerSchemesAsPrivileged`: no corsEnabled, so other origins cannot read it. */
export const APP_SCHEME_PRIVILEGES = { standard: true, secure: true, supportFetchAPI: true } as const

/** Content types of what the renderer build holds; anything else is served as opaque bytes. */
export const RENDERER_CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
}

function plain(status: number, text: string): Response {
  return new Response(text, {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'content-security-policy': CONTENT_SECURITY_POLICY },
  })
}

/**
 * Answers one `app://` request from the files under `rendererDir` (the built renderer folder), for
 * `protocol.handle`. Only GET and HEAD on host `tunewise`; the path is percent-decoded and must resolve inside
 * `rendererDir` (`safePath`: no `..`, no absolute or drive paths, no links leading out) or the answer is 404.
 * Every answer carries the CSP, `nosniff` and `no-referrer`.
 */
export async function serveRendererFile(
  rendererDir: string,
  request: Pick<Request, 'url' | 'method'>,
): Promise<Response> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return plain(405, 'Method not allowed.')
  let url: URL
  try {
    url = new URL(request.url)
  } catch {
    return plain(400, 'Bad request.')
  }
  if (url.protocol !== `${APP_SCHEME}:` || url.host !== APP_HOST) return plain(404, 'Not found.')
  let file: string
  try {
    const rel = decodeURIComponent(url.pathname).replace(/^\/+/, '') || 'index.html'
    file = safePath(rendererDir, rel)
    if (!(await stat(file)).isFile()) return plain(404, 'Not found.')
  } catch (err) {
    // Refused (outside the folder), malformed percent-encoding, or no such file: all look the same to the page.
    if (err instanceof PathRefusedError || err instanceof URIError || (err as { code?: string }).code) {
      return plain(404, 'Not found.')
    }
    throw err
  }
  const body = request.method === 'HEAD' ? null : await readFile(file)
  return new Response(body, {
    status: 200,
    headers: {
      'content-type': RENDERER_CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    },
  })
}

/**
 * True when `url` is a page of ours: under `app://tunewise/`, or, in development, on the dev server's origin
 * (`devServerUrl`, electron-vite's ELECTRON_RENDERER_URL). Compared by parsed origin, not by string prefix, so
 * `http://localhost:51730` does not pass for `http://localhost:5173`.
 */
export function isOwnPageUrl(url: string, devServerUrl?: string): boolean {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return false
  }
  if (devServerUrl) {
    try {
      return parsed.origin === new URL(devServerUrl).origin && parsed.origin !== 'null'
    } catch {
      return false
    }
  }
  return parsed.protocol === `${APP_SCHEME}:` && parsed.host === APP_HOST
}

/**
 * The web pages a link in Tunewise may open in the user's browser (`shell.openExternal`): https only, these
 * hosts only, and only under these path prefixes (whole segments), so a link cannot send the user to any page
 * on a shared host. storage.googleapis.com holds the online models' files (`catalogue.ts` source URLs); GitHub
 * holds the source and license of the bundled models (nsfwjs) and of the TF.js models.
 * A test checks that every https URL in the model catalogue passes.
 */
export const EXTERNAL_LINKS: Readonly<Record<string, readonly string[]>> = {
  'storage.googleapis.com': ['/tfjs-models', '/teachable-machine-models'],
  'github.com': ['/infinitered/nsfwjs', '/tensorflow/tfjs-models', '/tensorflow/tfjs'],
}

/**
 * True when `url` may be handed to `shell.openExternal`: `https:`, no user name or password, the default port,
 * a host listed in `EXTERNAL_LINKS` (exactly, no subdomains) and a path under one of its prefixes.
 */
export function isAllowedExternalUrl(url: string): boolean {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return false
  }
  if (parsed.protocol !== 'https:' || parsed.username || parsed.password || parsed.port) return false
  const prefixes = Object.hasOwn(EXTERNAL_LINKS, parsed.hostname) ? EXTERNAL_LINKS[parsed.hostname] : undefined
  // pathname is already normalised by URL (dot segments removed), so a prefix match is a real containment.
  return prefixes?.some((p) => parsed.pathname === p || parsed.pathname.startsWith(`${p}/`)) ?? false
}
