/**
 * Decode: CPU per object of decoding built-in kinds the way the Client and the Informer do
 * (src/internal/codec.ts: a compiled type guard, the parsed JSON kept), next to Effect's own
 * decoder of the same Schema (`Schema.decodeUnknownSync`, which copies the object) and, for scale,
 * `JSON.parse` of the object's text.
 *
 * The objects are what kube-apiserver answers (defaults filled in, managedFields): a ConfigMap of
 * about 1.5 KB, a Secret, a Lease, a Pod and a Deployment with two containers, probes, env and
 * volumes. Each measurement decodes 1,000 distinct copies 100 times, in this process; the
 * implementations alternate within each round; the figures are medians over rounds.
 */
import { Effect, Schema } from "effect"
import * as Client from "../src/Client.ts"
import * as Envtest from "../src/testing/Envtest.ts"
import { decodeObject } from "../src/internal/codec.ts"
import * as Kind from "../src/Kind.ts"
import * as KubeConfig from "../src/KubeConfig.ts"
import { log, type Measurement, printTable, summarize, writeResults } from "./lib.ts"

const COPIES = 1_000
const REPEAT = 100

const container = (name: string, image: string) => ({
  name,
  image,
  ports: [{ containerPort: 8080, name: "http" }],
  env: [{ name: "MODE", value: "fast" }, { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
  resources: { limits: { cpu: "500m", memory: "128Mi" }, requests: { cpu: "100m" } },
  readinessProbe: { httpGet: { path: "/ready", port: "http" }, periodSeconds: 5 },
  livenessProbe: { tcpSocket: { port: 8080 } },
  volumeMounts: [{ name: "cache", mountPath: "/cache" }, { name: "config", mountPath: "/etc/app" }]
})
const podSpec = {
  containers: [container("web", "nginx:1.27"), container("sidecar", "envoy:1.30")],
  volumes: [{ name: "cache", emptyDir: {} }, { name: "config", configMap: { name: "app" } }]
}

export const main = async (rounds = 5) => {
  const samples = new Map<string, { kind: Kind.Any; text: string }>()
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    log("decode: starting Envtest")
    const env = yield* Envtest.make()
    const client = yield* Client.make(yield* KubeConfig.fromString(env.kubeconfig))
    const namespace = "bench-decode"
    const metadata = (name: string) => ({ name, namespace, labels: { app: "bench" } })
    yield* client.create(Kind.Namespace, { metadata: { name: namespace } })
    yield* client.create(Kind.ConfigMap, { metadata: metadata("cm"), data: { payload: "x".repeat(1252), i: "1", v: "0" } })
    yield* client.create(Kind.Secret, { metadata: metadata("secret"), type: "Opaque", data: { password: "cGFzc3dvcmQ=" } })
    yield* client.create(Kind.Lease, {
      metadata: metadata("leader"),
      spec: { holderIdentity: "op-1", leaseDurationSeconds: 15, renewTime: "2026-12-01T10:00:00.000000Z", leaseTransitions: 1 }
    })
    yield* client.create(Kind.Pod, { metadata: metadata("pod"), spec: podSpec })
    yield* client.create(Kind.Deployment, {
      metadata: metadata("web"),
      spec: { selector: { matchLabels: { app: "bench" } }, template: { metadata: { labels: { app: "bench" } }, spec: podSpec } }
    })
    for (const [kind, name] of [[Kind.ConfigMap, "cm"], [Kind.Secret, "secret"], [Kind.Lease, "leader"], [Kind.Pod, "pod"], [Kind.Deployment, "web"]] as const) {
      const raw = yield* client.raw({ method: "GET", path: Kind.objectPath(kind, namespace, name) })
      samples.set(kind.kind, { kind, text: JSON.stringify(raw) })
    }
  })))

  const cpu = (f: () => void) => {
    const start = process.cpuUsage()
    f()
    const used = process.cpuUsage(start)
    return (used.user + used.system) / (COPIES * REPEAT)
  }
  const impls = {
    operatorkit: (kind: Kind.Any, objects: ReadonlyArray<unknown>) =>
      cpu(() => {
        for (let r = 0; r < REPEAT; r++) {
          for (const o of objects) if (decodeObject(kind, o) instanceof Error) throw new Error(`${kind} does not decode`)
        }
      }),
    "effect-decode": (kind: Kind.Any, objects: ReadonlyArray<unknown>) => {
      const decode = Schema.decodeUnknownSync(kind.schema)
      return cpu(() => {
        for (let r = 0; r < REPEAT; r++) for (const o of objects) decode(o)
      })
    },
    "json-parse": (_: Kind.Any, __: ReadonlyArray<unknown>, text: string) =>
      cpu(() => {
        for (let r = 0; r < REPEAT; r++) for (let i = 0; i < COPIES; i++) JSON.parse(text)
      })
  }
  const measurements: Array<Measurement> = []
  for (let round = 0; round < rounds; round++) {
    const order = Object.keys(impls).map((_, i, all) => all[(i + round) % all.length]! as keyof typeof impls)
    for (const [name, { kind, text }] of samples) {
      const objects = Array.from({ length: COPIES }, () => JSON.parse(text) as unknown)
      for (const impl of order) {
        const value = impls[impl](kind, objects, text)
        measurements.push({ impl, metric: `${name.toLowerCase()}_us`, value })
      }
    }
    log(`decode: round ${round + 1}/${rounds}`)
  }
  const results = summarize(measurements)
  const sizes = Object.fromEntries([...samples].map(([name, s]) => [`${name.toLowerCase()}_bytes`, s.text.length]))
  const file = writeResults("decode", rounds, results, sizes)
  printTable("decode", results)
  process.stdout.write(`\nobject sizes (bytes): ${JSON.stringify(sizes)}\nresults: ${file}\n`)
}
