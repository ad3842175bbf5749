/**
 * Defensive JSON for database columns: a damaged value (hand-edited file, disk error) must cost
 * that one value, not the whole list it sits in.
 */
export function parseJson<T>(text: unknown, guard: (v: unknown) => boolean = () => true): T | null {
  if (typeof text !== 'string') return null
  try {
    const value: unknown = JSON.parse(text)
    return guard(value) ? (value as T) : null
  } catch {
    return null
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
