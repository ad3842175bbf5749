/**
 * The Content-Security-Policy for every page Tunewise shows: only our own scripts, no eval, no
 * remote anything. Styles allow 'unsafe-inline' because Svelte writes style attributes; images may
 * be data: URLs (thumbnails). connect-src 'self' covers the browser-mode WebSocket (same origin).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ')
