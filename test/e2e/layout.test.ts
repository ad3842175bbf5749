/**
 * Every screen at 1280×800 and at 1024×700, in Chromium against the built app: nothing sticks out of its
 * container sideways, the step's primary action is on screen and not covered, and axe-core finds no serious
 * or critical accessibility problem. One app, one short run made with the CLI and one made through the
 * wizard (Compare needs two); the screens are visited in the order a user meets them.
 *
 * A failure lists every problem of the screen, one line each, with the size, a selector a person can find in
 * the code (from the nearest ancestor with an id or a test id) and how far off it is, e.g.
 *   [1024×700] overflow: text "BatchNormalization" in div[data-testid="layer-row"].layer-row > span.muted
 *     spills 20 px out of its own box, over whatever is beside it (×6)
 *   [1280×800] primary action: [data-testid="next"] is not fully in the viewport: 120 px below the viewport
 *   [1280×800] axe serious color-contrast (…) on 2 element(s): <target> <html> — Fix any of the following: …
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type * as Axe from 'axe-core'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliJson, launchBrowser, openPage, requireBuild, startServe, type App } from './harness'

const TRAINING_MS = 300_000
const SIZES = [
  { width: 1280, height: 800 },
  { width: 1024, height: 700 },
] as const
/** Impacts that fail the test; moderate and minor ones are left to review. */
const FAILING_IMPACTS: Axe.ImpactValue[] = ['serious', 'critical']

const axeSource = readFileSync(createRequire(__filename).resolve('axe-core/axe.min.js'), 'utf8')

// ---------------------------------------------------------------------------------------------------------
// In the page. These functions are sent to the browser as source, so each is self-contained.

/**
 * Every rendered element and text run that reaches past the box that clips it: the nearest ancestor whose
 * overflow is not `visible`, or the viewport. An ancestor whose stylesheet asks for sideways scrolling
 * (`overflow-x` or `overflow` auto or scroll, e.g. a wide table's wrapper) ends the search: what is inside it
 * may be wider, and the wrapper itself is checked like any element. An ancestor that only asks to scroll up and
 * down (`overflow-y: auto`: the window's panes, a long list; CSS then makes overflow-x auto too) clips like
 * any other: content wider than it is reported. A text run is also checked against its own box (a word wider
 * than its table cell is drawn over the next cell). Skipped: nothing drawn (no box, zero or 1 px wide or high,
 * `visibility: hidden`, inside `opacity: 0`, inside a visually-hidden 1 px clip), text an ellipsis shortens on
 * purpose, and uPlot's cursor parts (shown under the pointer only). Only the outermost offender of a chain is
 * reported, with how many descendants stick out with it.
 */
function horizontalOverflow(): string[] {
  const vw = document.documentElement.clientWidth
  const tolerance = 1
  const cursorParts = '.u-cursor-x, .u-cursor-y, .u-cursor-pt, .u-select'

  /** Elements a stylesheet rule (in a media query that applies) or their own style sets overflow-x on. */
  const sidewaysByDesign = new Set<Element>()
  const collect = (rules: CSSRuleList): void => {
    for (const rule of rules) {
      if (rule instanceof CSSMediaRule && !matchMedia(rule.conditionText).matches) continue
      if (rule instanceof CSSStyleRule && ['auto', 'scroll'].includes(rule.style.overflowX)) {
        try {
          for (const el of document.querySelectorAll(rule.selectorText)) sidewaysByDesign.add(el)
        } catch {
          // A selector querySelectorAll cannot take (a pseudo-element) matches no element anyway.
        }
      }
      if ('cssRules' in rule) collect(rule.cssRules as CSSRuleList)
    }
  }
  for (const sheet of document.styleSheets) collect(sheet.cssRules)
  for (const el of document.querySelectorAll<HTMLElement>('[style]'))
    if (['auto', 'scroll'].includes(el.style.overflowX)) sidewaysByDesign.add(el)
  const scrollsSideways = (el: Element, s: CSSStyleDeclaration): boolean =>
    (s.overflowX === 'auto' || s.overflowX === 'scroll') && sidewaysByDesign.has(el)
  const clipWhat = (el: Element, s: CSSStyleDeclaration): string =>
    s.overflowX === 'auto' || s.overflowX === 'scroll'
      ? 'it scrolls up and down; nothing asks it to scroll sideways'
      : `overflow-x: ${s.overflowX}, so the rest is cut off`

  const label = (el: Element): string => {
    const tag = el.tagName.toLowerCase()
    const id = el.id ? `#${el.id}` : ''
    const testid = el.getAttribute('data-testid')
    const classes = [...el.classList]
      .filter((c) => !c.startsWith('svelte-'))
      .slice(0, 3)
      .map((c) => `.${c}`)
      .join('')
    return `${tag}${id}${testid ? `[data-testid="${testid}"]` : ''}${classes}`
  }
  /** From the nearest ancestor with an id or a test id (at most five levels), so it can be found in the code. */
  const selector = (el: Element): string => {
    const parts: string[] = []
    for (let e: Element | null = el; e && e !== document.body && parts.length < 5; e = e.parentElement) {
      parts.unshift(label(e))
      if (e.id || e.hasAttribute('data-testid')) break
    }
    const text = (el.textContent ?? '').replace(/\s+/g, ' ').trim()
    return `${parts.join(' > ')}${text ? ` ("${text.length > 40 ? `${text.slice(0, 40)}…` : text}")` : ''}`
  }
  const notDrawn = (el: Element): boolean => {
    for (let e: Element | null = el; e; e = e.parentElement) {
      const s = getComputedStyle(e)
      if (s.opacity === '0') return true
      if (e !== el && s.overflowX !== 'visible') {
        const r = e.getBoundingClientRect()
        if (r.width <= 1 || r.height <= 1) return true
      }
    }
    return false
  }

  interface Clip {
    el: Element | null
    left: number
    right: number
    what: string
  }
  /** The box that clips `el` sideways, or null when a sideways scroller holds it (intended scrolling). */
  const clipOf = (el: Element): Clip | null => {
    let position = getComputedStyle(el).position
    if (position === 'fixed') return { el: null, left: 0, right: vw, what: 'the viewport' }
    let needPositioned = position === 'absolute'
    for (let a = el.parentElement; a; a = a.parentElement) {
      const s = getComputedStyle(a)
      const containing = s.position !== 'static' || s.transform !== 'none' || s.contain.includes('paint')
      // An absolutely placed box is clipped only by its containing block and the ancestors of that.
      if (needPositioned && !containing) continue
      if (needPositioned) needPositioned = s.position === 'absolute'
      if (s.overflowX !== 'visible') {
        if (scrollsSideways(a, s)) return null
        const r = a.getBoundingClientRect()
        const left = r.left + a.clientLeft
        return { el: a, left, right: left + a.clientWidth, what: `${label(a)} (${clipWhat(a, s)})` }
      }
      position = s.position
      if (position === 'fixed') return { el: null, left: 0, right: vw, what: 'the viewport' }
    }
    return { el: null, left: 0, right: vw, what: 'the viewport' }
  }
  const beyond = (left: number, right: number, clip: Clip): string | null => {
    const r = Math.max(right - clip.right, right - vw)
    const l = Math.max(clip.left - left, -left)
    if (r > tolerance)
      return `ends ${Math.round(r)} px past the right edge of ${right - vw > right - clip.right ? 'the viewport' : clip.what}`
    if (l > tolerance)
      return `starts ${Math.round(l)} px left of ${-left > clip.left - left ? 'the viewport' : clip.what}`
    return null
  }

  const offenders = new Map<Element, { line: string; descendants: number }>()
  const reportedAncestor = (el: Element, clip: Clip): Element | null => {
    for (let a = el.parentElement; a && a !== clip.el; a = a.parentElement) if (offenders.has(a)) return a
    return null
  }
  const report = (el: Element, clip: Clip, problem: string, what = selector(el)): void => {
    const outer = reportedAncestor(el, clip)
    if (outer) offenders.get(outer)!.descendants++
    else offenders.set(el, { line: `${what} ${problem}`, descendants: 0 })
  }

  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest(cursorParts) || el.closest('script, style, template, noscript')) continue
    const s = getComputedStyle(el)
    if (s.display === 'contents' || s.visibility !== 'visible') continue
    const box = el.getBoundingClientRect()
    if (box.width <= 1 || box.height <= 1 || notDrawn(el)) continue
    const clip = clipOf(el)
    if (!clip) continue
    const problem = beyond(box.left, box.right, clip)
    if (problem) report(el, clip, problem)
  }

  // Text runs: a long word or path spills out of a box without the box itself growing.
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT)
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement
    if (
      !parent ||
      !node.textContent?.trim() ||
      parent.closest(`${cursorParts}, script, style, template, noscript, select, option, textarea`)
    )
      continue
    const s = getComputedStyle(parent)
    if (s.display === 'contents' || s.visibility !== 'visible') continue
    const pbox = parent.getBoundingClientRect()
    if (pbox.width <= 1 || pbox.height <= 1 || notDrawn(parent)) continue
    // Ellipsis is the intended way to shorten a line: the element clips its own text and says so.
    if (s.overflowX !== 'visible' && s.textOverflow === 'ellipsis') continue
    const range = document.createRange()
    range.selectNodeContents(node)
    const rect = range.getBoundingClientRect()
    if (rect.width <= 1 || rect.height <= 1) continue
    const clip: Clip | null =
      s.overflowX === 'visible'
        ? clipOf(parent)
        : scrollsSideways(parent, s)
          ? null
          : {
              el: parent,
              left: pbox.left + parent.clientLeft,
              right: pbox.left + parent.clientLeft + parent.clientWidth,
              what: `${label(parent)} (${clipWhat(parent, s)})`,
            }
    const text = node.textContent.replace(/\s+/g, ' ').trim()
    const what = `text "${text.length > 40 ? `${text.slice(0, 40)}…` : text}" in ${selector(parent)}`
    const problem = clip && beyond(rect.left, rect.right, clip)
    if (clip && problem) {
      if (!offenders.has(parent)) report(parent, clip, problem, what)
      continue
    }
    // Out of its own box: a word wider than its cell is drawn over the cell beside it, inside a sideways
    // scroller too. An inline parent's box is its text, so only parents with a box of their own count.
    if (s.display === 'inline' || s.overflowX !== 'visible' || offenders.has(parent)) continue
    const spill = Math.max(rect.right - pbox.right, pbox.left - rect.left)
    if (spill > tolerance)
      report(
        parent,
        { el: parent, left: pbox.left, right: pbox.right, what: 'its own box' },
        `spills ${Math.round(spill)} px out of its own box, over whatever is beside it`,
        what,
      )
  }

  return [...offenders.values()].map(
    (o) => `${o.line}${o.descendants ? ` (and ${o.descendants} elements inside it with it)` : ''}`,
  )
}

/**
 * Where each primary action is, if it is not in reach as the screen opens: fully inside the viewport and
 * inside every ancestor that clips or scrolls (a button scrolled out of a wide table's wrapper is out of
 * reach too), and on top (a click at its centre hits it).
 */
function primaryOutOfReach(selectors: string[]): string[] {
  const vw = document.documentElement.clientWidth
  const vh = document.documentElement.clientHeight
  const label = (el: Element): string => {
    const testid = el.getAttribute('data-testid')
    const classes = [...el.classList]
      .filter((c) => !c.startsWith('svelte-'))
      .slice(0, 3)
      .map((c) => `.${c}`)
      .join('')
    return `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${testid ? `[data-testid="${testid}"]` : ''}${classes}`
  }
  /** How far `r` reaches past the box [left, top, right, bottom], side by side, or [] when it fits. */
  const past = (r: DOMRect, left: number, top: number, right: number, bottom: number): string[] => {
    const out: string[] = []
    if (r.bottom > bottom + 0.5) out.push(`${Math.round(r.bottom - bottom)} px below`)
    if (r.top < top - 0.5) out.push(`${Math.round(top - r.top)} px above`)
    if (r.right > right + 0.5) out.push(`${Math.round(r.right - right)} px past the right edge of`)
    if (r.left < left - 0.5) out.push(`${Math.round(left - r.left)} px left of`)
    return out
  }
  const problems: string[] = []
  for (const sel of selectors) {
    const el = document.querySelector(sel)
    if (!el) {
      problems.push(`${sel} is not on the page`)
      continue
    }
    const r = el.getBoundingClientRect()
    if (r.width < 1 || r.height < 1) {
      problems.push(`${sel} is not drawn (${Math.round(r.width)}×${Math.round(r.height)} px)`)
      continue
    }
    let clipped = ''
    for (let a = el.parentElement; a && !clipped; a = a.parentElement) {
      const s = getComputedStyle(a)
      if (s.overflowX !== 'visible' || s.overflowY !== 'visible') {
        const b = a.getBoundingClientRect()
        const left = b.left + a.clientLeft
        const top = b.top + a.clientTop
        const off = past(r, left, top, left + a.clientWidth, top + a.clientHeight)
        if (off.length)
          clipped = `${sel} is hidden in ${label(a)} (overflow ${s.overflowX}/${s.overflowY}): ${off.map((p) => `${p} its visible box`).join(', ')}`
      }
      if (s.position === 'fixed') break
    }
    if (clipped) {
      problems.push(clipped)
      continue
    }
    const offView = past(r, 0, 0, vw, vh)
    if (offView.length) {
      problems.push(`${sel} is not fully in the viewport: ${offView.map((p) => `${p} the viewport`).join(', ')}`)
      continue
    }
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2)
    if (hit && hit !== el && !el.contains(hit)) problems.push(`${sel} is covered at its centre by ${label(hit)}`)
  }
  return problems
}

// ---------------------------------------------------------------------------------------------------------

const dataDir = mkdtempSync(join(tmpdir(), 'tw-layout-e2e-'))
let browser: Browser
let app: App
let page: Page

beforeAll(async () => {
  requireBuild()
  const config = join(dataDir, 'short.json')
  writeFileSync(config, JSON.stringify({ name: 'Made with the CLI', hyper: { epochs: 2 } }))
  // The app's sample data and a short run on it (its base features are then cached for the wizard's run).
  const [first] = await Promise.all([
    cliJson<{ status: string }>(dataDir, 'demo', '--config', config, '--json'),
    launchBrowser().then((b) => (browser = b)),
  ])
  expect(first.status).toBe('succeeded')
  app = await startServe({ dataDir })
  page = await openPage(browser, app.url)
}, TRAINING_MS)

afterAll(async () => {
  await browser?.close()
  await app?.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

const $ = (testid: string) => page.locator(`[data-testid="${testid}"]`)
const NEXT = '[data-testid="next"]'

/** Two animation frames: resize observers (the charts) have run and the layout is the one painted. */
async function settle(): Promise<void> {
  await page.evaluate(
    () => new Promise<void>((done) => requestAnimationFrame(() => requestAnimationFrame(() => done()))),
  )
}

async function axeProblems(): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource)
  const violations = await page.evaluate(async (impacts) => {
    const axe = (window as unknown as { axe: typeof Axe }).axe
    const result = await axe.run(document, { resultTypes: ['violations'] })
    return result.violations
      .filter((v) => v.impact && impacts.includes(v.impact))
      .map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => ({
          target: n.target.join(' '),
          html: n.html.length > 160 ? `${n.html.slice(0, 160)}…` : n.html,
          summary: (n.failureSummary ?? '').replace(/\s+/g, ' ').trim(),
        })),
      }))
  }, FAILING_IMPACTS)
  // One line a rule: the elements it names (the first few in full), and axe's advice once.
  return violations.map((v) => {
    const [first] = v.nodes
    const more =
      v.nodes.length > 1
        ? `; also ${v.nodes
            .slice(1, 4)
            .map((n) => n.target)
            .join('; ')}`
        : ''
    const rest = v.nodes.length > 4 ? ` and ${v.nodes.length - 4} more` : ''
    return `axe ${v.impact} ${v.id} (${v.help}) on ${v.nodes.length} element(s): ${first!.target} ${first!.html}${more}${rest} — ${first!.summary}`
  })
}

/**
 * Checks the screen as it is at both sizes and returns every problem, one line each. `primary` lists the
 * actions that must be in reach as the screen opens (the pane scrolled to the top).
 */
async function problemsOn(primary: string[]): Promise<string[]> {
  const problems: string[] = []
  for (const size of SIZES) {
    await page.setViewportSize(size)
    await settle()
    const at = `[${size.width}×${size.height}]`
    const overflow = await page.evaluate(horizontalOverflow)
    // The same cell in each row of a list says the same thing once, with how many times.
    for (const p of new Set(overflow)) {
      const n = overflow.filter((q) => q === p).length
      problems.push(`${at} overflow: ${p}${n > 1 ? ` (×${n})` : ''}`)
    }
    for (const p of await page.evaluate(primaryOutOfReach, primary)) problems.push(`${at} primary action: ${p}`)
    for (const p of await axeProblems()) problems.push(`${at} ${p}`)
  }
  await page.setViewportSize(SIZES[0])
  await settle()
  return problems
}

async function onStep(step: string): Promise<void> {
  await page.locator(`[data-step="${step}"][aria-current="step"]`).waitFor()
  await page.locator('main.content').evaluate((el) => el.scrollTo(0, 0))
}

describe('every screen at 1280×800 and 1024×700', () => {
  it('Model', async () => {
    await $('model-card').first().waitFor()
    await onStep('model')
    expect(await problemsOn([NEXT])).toEqual([])
  })

  it('Model with a model card open', async () => {
    await page.locator('[data-testid="model-card"][aria-pressed="true"]').waitFor()
    const item = page.locator('li.model', { has: page.locator('[data-testid="model-card"][aria-pressed="true"]') })
    await item.locator('[data-testid="show-card"]').click()
    await $('model-card-view').waitFor()
    const problems = await problemsOn([NEXT])
    await item.locator('[data-testid="show-card"]').click()
    expect(problems).toEqual([])
  })

  it('Data, nothing chosen yet', async () => {
    await page.locator(NEXT).click()
    await onStep('data')
    await $('use-sample').waitFor()
    expect(await problemsOn([NEXT, '[data-testid="use-sample"]'])).toEqual([])
  })

  it('Data with its report', async () => {
    await $('use-sample').click()
    await $('data-report').waitFor({ timeout: 120_000 })
    await onStep('data')
    expect(await problemsOn([NEXT])).toEqual([])
  })

  it('Split', async () => {
    await page.locator(`${NEXT}:enabled`).click()
    await $('split-table').waitFor()
    await onStep('split')
    expect(await problemsOn([NEXT])).toEqual([])
  })

  it('Freeze', async () => {
    await page.locator(`${NEXT}:enabled`).click()
    await onStep('freeze')
    expect(await problemsOn([NEXT])).toEqual([])
  })

  it('Freeze with the layer list open', async () => {
    await $('layers-toggle').click()
    await $('layer-list').waitFor()
    const problems = await problemsOn([NEXT])
    await $('layers-toggle').click()
    expect(problems).toEqual([])
  })

  it('Hyperparameters', async () => {
    await page.locator(`${NEXT}:enabled`).click()
    await onStep('hyper')
    expect(await problemsOn([NEXT])).toEqual([])
  })

  it('Hyperparameters with every setting shown', async () => {
    await $('advanced-toggle').click()
    await $('field-hyper-epochs').waitFor()
    // A short run for the screens after this one.
    await $('run-name').fill('Made in the wizard')
    await $('field-hyper-epochs').fill('2')
    expect(await problemsOn([NEXT])).toEqual([])
  })

  it('Train, before starting', async () => {
    await page.locator(`${NEXT}:enabled`).click()
    await onStep('train')
    await $('start-training').waitFor()
    // The footer's primary action here is Start.
    expect(await problemsOn(['[data-testid="start-training"]'])).toEqual([])
  })

  it('Results', async () => {
    await $('start-training').click()
    await page.locator('[data-testid="run-status"][data-value="running"]').waitFor({ timeout: 60_000 })
    await page.locator('[data-step="results"][aria-current="step"]').waitFor({ timeout: TRAINING_MS })
    await $('test-accuracy').waitFor()
    await $('confusion-matrix').waitFor()
    await onStep('results')
    expect(await problemsOn([NEXT])).toEqual([])
  })

  it('Results with a cell of the confusion matrix open', async () => {
    // The images behind one count, each captioned with its true and predicted class.
    await page.locator('[data-testid="confusion-matrix"] .cm-cell:enabled').first().click()
    await $('cell-images').locator('img').first().waitFor()
    expect(await problemsOn([NEXT])).toEqual([])
  })

  it('Train, finished', async () => {
    await page.locator('[data-step="train"]').click()
    await onStep('train')
    await page.locator('[data-testid="run-status"][data-value="succeeded"]').waitFor()
    // A finished run's way on is another run with these settings; its results stay one click away.
    expect(await problemsOn(['[data-testid="new-run"]', '[data-testid="see-results"]'])).toEqual([])
  })

  it('History with two runs', async () => {
    await page.locator('[data-step="history"]').click()
    await onStep('history')
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="history-row"]').length === 2)
    // A run's actions are the screen's own: the Actions column (Delete is its last) must not be scrolled away.
    expect(await problemsOn([NEXT, '[data-testid="history-row"] [data-testid="delete"]'])).toEqual([])
  })

  it('History, editing a run', async () => {
    await $('edit').first().click()
    await $('edit-name').waitFor()
    const problems = await problemsOn([NEXT, '[data-testid="edit-save"]', '[data-testid="edit-name"]'])
    await $('edit').first().click()
    await $('edit-name').waitFor({ state: 'detached' })
    expect(problems).toEqual([])
  })

  it('History, the delete confirmation', async () => {
    const dialog = $('confirm-dialog')
    await $('delete').first().click()
    await dialog.waitFor({ state: 'visible' })
    const problems = await problemsOn(['[data-testid="confirm-ok"]', '[data-testid="confirm-cancel"]'])
    await $('confirm-cancel').click()
    await dialog.waitFor({ state: 'hidden' })
    expect(problems).toEqual([])
  })

  it('Compare, two runs', async () => {
    for (const box of await $('run-select').all()) await box.check()
    await $('compare').click()
    await $('compare-view').waitFor()
    await page.waitForFunction(
      () => document.querySelector('[data-testid="compare-curves"]')?.getAttribute('data-series-count') === '2',
    )
    await $('example-diff').waitFor()
    await page.locator('main.content').evaluate((el) => el.scrollTo(0, 0))
    // Compare has no step footer: its one action is the way back.
    const problems = await problemsOn(['[data-testid="compare-close"]'])
    expect((page as Page & { errors?: string[] }).errors ?? []).toEqual([])
    expect(problems).toEqual([])
  })
})
