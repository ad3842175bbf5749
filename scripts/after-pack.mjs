/**
 * electron-builder `afterPack` hook: flips Electron's security fuses in the packaged binary, before signing
 * (electron-builder signs after this hook, so the signature covers the flipped bytes).
 *
 * Fuses are bits compiled into the Electron binary that turn features off for good, whatever the environment
 * or the command line says. See https://www.electronjs.org/docs/latest/tutorial/fuses.
 */
import { join } from 'node:path'
import { flipFuses, FuseV1Options, FuseVersion } from '@electron/fuses'

/**
 * What each fuse is set to. Exported so a test can check it without packaging.
 *
 * RunAsNode off means ELECTRON_RUN_AS_NODE is ignored: `child_process.fork(process.execPath)` then starts
 * another copy of the app instead of Node. Workers must be utilityProcess (see src/main/index.ts).
 */
export const FUSES = {
  version: FuseVersion.V1,
  /** ELECTRON_RUN_AS_NODE would turn the signed app into a general-purpose Node interpreter. */
  [FuseV1Options.RunAsNode]: false,
  /** Cookies on disk are encrypted with an OS-held key (Keychain, DPAPI, libsecret). */
  [FuseV1Options.EnableCookieEncryption]: true,
  /** NODE_OPTIONS could preload code into the main process (--require). */
  [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
  /** --inspect and friends would let anyone who can start the app attach a debugger to main. */
  [FuseV1Options.EnableNodeCliInspectArguments]: false,
  /** app.asar is checked against the hash electron-builder embeds (macOS and Windows; a no-op on Linux). */
  [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: true,
  /** Only app.asar is loaded, so a loose `resources/app` folder beside it cannot replace the app. */
  [FuseV1Options.OnlyLoadAppFromAsar]: true,
  /** The renderer is served from app:// (src/main/security.ts); file:// pages need no extra powers. */
  [FuseV1Options.GrantFileProtocolExtraPrivileges]: false,
}

/** electron-builder's `Arch` values that hold an arm64 macOS slice (arm64 = 3, universal = 4). */
const ARM64_ARCHES = new Set([3, 4])

/**
 * The file that carries the fuse wire, as electron-builder names it: `<productFilename>.app` on macOS (the
 * fuses package finds the framework inside), `<productFilename>.exe` on Windows, `<executableName>` on Linux.
 */
export function electronBinaryPath(context) {
  const { appOutDir, electronPlatformName, packager } = context
  if (electronPlatformName === 'darwin' || electronPlatformName === 'mas') {
    return join(appOutDir, `${packager.appInfo.productFilename}.app`)
  }
  if (electronPlatformName === 'win32') return join(appOutDir, `${packager.appInfo.productFilename}.exe`)
  return join(appOutDir, packager.executableName ?? packager.appInfo.productFilename)
}

/** The hook electron-builder calls once per platform and architecture. */
export default async function afterPack(context) {
  const binary = electronBinaryPath(context)
  const isMac = context.electronPlatformName === 'darwin' || context.electronPlatformName === 'mas'
  await flipFuses(binary, {
    ...FUSES,
    // Flipping bytes breaks the ad-hoc signature arm64 macOS requires to run at all: sign it again.
    resetAdHocDarwinSignature: isMac && ARM64_ARCHES.has(context.arch),
  })
  console.log(`  • flipped Electron fuses  file=${binary}`)
}
