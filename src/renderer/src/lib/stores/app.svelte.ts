/** App-wide state: backend info for the status line, connection state, and short notices. */
import type { AppInfo } from '$shared/types'
import { api, connection } from '../api'
import { errorText } from '../core/format'
import type { ConnectionState } from '../core/ws-client'

export interface Notice {
  id: number
  kind: 'info' | 'success' | 'error'
  text: string
}

class AppStore {
  info = $state<AppInfo | null>(null)
  infoError = $state<string | null>(null)
  connection = $state<ConnectionState>(connection.state)
  notices = $state<Notice[]>([])
  private nextNotice = 1

  constructor() {
    connection.listeners.add((s) => (this.connection = s))
  }

  async loadInfo(): Promise<void> {
    try {
      this.info = await api.invoke('app:info', {})
      this.infoError = null
    } catch (err) {
      this.infoError = errorText(err)
    }
  }

  /** Shows a short notice; errors stay until dismissed, others fade after 5 s. */
  notify(text: string, kind: Notice['kind'] = 'info'): void {
    const id = this.nextNotice++
    this.notices.push({ id, kind, text })
    if (kind !== 'error') setTimeout(() => this.dismiss(id), 5000)
  }

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id)
  }
}

export const app = new AppStore()
