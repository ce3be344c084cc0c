/** One client benchmark measurement in a fresh process: `client-worker.ts <impl> <kubeconfig> <namespace>`. */
// each implementation imports only its own modules, so the heap figures are its own
import { CONCURRENCY, N, SEED_NAMESPACE } from "./client-config.ts"
import { pool, withPeaks } from "./lib.ts"

const [impl, kubeconfigPath, createNamespace] = process.argv.slice(2) as [string, string, string]
const payload = "y".repeat(1024)
const body = (i: number) => ({ metadata: { name: `new-${i}`, namespace: createNamespace }, data: { payload, i: String(i) } })

interface Impl {
  readonly gets: (n: number) => Promise<unknown>
  readonly creates: (n: number) => Promise<unknown>
  readonly close: () => Promise<void>
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

const operatorkit = async (): Promise<Impl> => {
  const { Effect, Exit, Scope } = await import("effect")
  // the modules a client program uses, by path (the barrel would load every module of the library)
  const Client = await import("operatorkit/Client")
  const Kind = await import("operatorkit/Kind")
  const KubeConfig = await import("operatorkit/KubeConfig")
  const config = await Effect.runPromise(KubeConfig.fromFile(kubeconfigPath))
  const scope = await Effect.runPromise(Scope.make())
  const client = await Effect.runPromise(Client.make(config).pipe(Scope.provide(scope)))
  return {
    gets: (n) =>
      Effect.runPromise(Effect.forEach(range(n), (i) => client.get(Kind.ConfigMap, { namespace: SEED_NAMESPACE, name: `cm-${i % N}` }), {
        concurrency: CONCURRENCY,
        discard: true
      })),
    creates: (n) =>
      Effect.runPromise(Effect.forEach(range(n), (i) => client.create(Kind.ConfigMap, body(i)), { concurrency: CONCURRENCY, discard: true })),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const clientNode = async (): Promise<Impl> => {
  const K8s = await import("@kubernetes/client-node")
  const kc = new K8s.KubeConfig()
  kc.loadFromFile(kubeconfigPath)
  const api = kc.makeApiClient(K8s.CoreV1Api)
  return {
    gets: (n) => pool(n, CONCURRENCY, (i) => api.readNamespacedConfigMap({ namespace: SEED_NAMESPACE, name: `cm-${i % N}` })),
    creates: (n) => pool(n, CONCURRENCY, (i) => api.createNamespacedConfigMap({ namespace: createNamespace, body: body(i) })),
    close: async () => {}
  }
}

const floor = async (): Promise<Impl> => {
  const Https = await import("node:https")
  const Fs = await import("node:fs")
  // the Envtest kubeconfig is plain: read server, CA and token with regular expressions
  const text = Fs.readFileSync(kubeconfigPath, "utf8")
  const url = new URL(/server: (\S+)/.exec(text)![1]!)
  const token = /token: (\S+)/.exec(text)![1]!
  const cluster = { caData: /certificate-authority-data: (\S+)/.exec(text)![1]! }
  const agent = new Https.Agent({ keepAlive: true, ca: Buffer.from(cluster.caData!, "base64") })
  const call = (method: string, path: string, data?: string) =>
    new Promise<unknown>((resolve, reject) => {
      const req = Https.request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          method,
          path,
          headers: {
            authorization: `Bearer ${token}`,
            accept: "application/json",
            ...(data !== undefined ? { "content-type": "application/json", "content-length": Buffer.byteLength(data) } : {})
          }
        },
        (res) => {
          const chunks: Array<Buffer> = []
          res.on("data", (c: Buffer) => chunks.push(c))
          res.on("end", () => {
            const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"))
            if ((res.statusCode ?? 0) >= 300) reject(new Error(`HTTP ${res.statusCode}`))
            else resolve(parsed)
          })
        }
      )
      req.on("error", reject)
      req.end(data)
    })
  return {
    gets: (n) => pool(n, CONCURRENCY, (i) => call("GET", `/api/v1/namespaces/${SEED_NAMESPACE}/configmaps/cm-${i % N}`)),
    creates: (n) =>
      pool(n, CONCURRENCY, (i) =>
        call("POST", `/api/v1/namespaces/${createNamespace}/configmaps`, JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", ...body(i) }))),
    close: async () => agent.destroy()
  }
}

const make = { operatorkit, "client-node": clientNode, floor }[impl]
if (make === undefined) throw new Error(`unknown impl ${impl}`)
const subject = await make()

// warm up connections and the JIT, untimed, the same for every implementation
await subject.gets(500)
globalThis.gc?.()

const result = await withPeaks(async () => {
  let t = performance.now()
  await subject.gets(N)
  const getsMs = performance.now() - t
  t = performance.now()
  await subject.creates(N)
  const createsMs = performance.now() - t
  return { getsMs, createsMs }
})
await subject.close()
process.stdout.write(JSON.stringify({
  gets_per_s: Math.round((N / result.value.getsMs) * 1000),
  creates_per_s: Math.round((N / result.value.createsMs) * 1000),
  heap_peak_mb: Math.round(result.heapPeakMb * 10) / 10,
  rss_peak_mb: Math.round(result.rssPeakMb * 10) / 10
}) + "\n")
process.exit(0)
