/**
 * Updates every seeded ConfigMap once (a merge patch of `data.v`), from its own process so its CPU
 * is not charged to the informer being measured: `informer-updater.ts <kubeconfig> <namespace> <value>`.
 *
 * The updates are paced (UPDATE_RATE per second) so that every implementation sees the same arrival
 * of events: CPU per event depends on how many events each wake-up of the process brings, and an
 * unpaced updater runs at whatever speed the loaded machine allows at that moment.
 */
import { N, UPDATE_RATE, WRITE_CONCURRENCY } from "./informer-config.ts"
import { call, rawFromKubeconfig } from "./informer-raw.ts"
import { pool } from "./lib.ts"

const [kubeconfigPath, namespace, value] = process.argv.slice(2) as [string, string, string]
const raw = rawFromKubeconfig(kubeconfigPath)
const patch = JSON.stringify({ data: { v: value } })
const started = performance.now()
await pool(N, WRITE_CONCURRENCY, async (i) => {
  const wait = started + (i * 1000) / UPDATE_RATE - performance.now()
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
  for (let attempt = 0;; attempt++) {
    const res = await call(raw, "PATCH", `/api/v1/namespaces/${namespace}/configmaps/cm-${i}`, patch, "application/merge-patch+json")
    if (res.status === 200) return
    if (attempt >= 3) throw new Error(`PATCH cm-${i}: HTTP ${res.status} ${res.body.slice(0, 300)}`)
  }
})
raw.agent.destroy()
process.stdout.write(JSON.stringify({ updates: N, ms: Math.round(performance.now() - started) }) + "\n")
