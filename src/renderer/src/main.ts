import { mount } from 'svelte'
import { z } from 'zod'
import App from './App.svelte'
import './styles.css'

// zod probes for eval (a CSP violation report) unless told not to compile validators.
z.config({ jitless: true })

const target = document.getElementById('app')
if (!target) throw new Error('Missing #app element')

export default mount(App, { target })
