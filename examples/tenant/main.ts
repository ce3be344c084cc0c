/**
 * `npm start`: the Tenant operator, running.
 *
 * Where it runs:
 * - `KUBECONFIG` is set: on that cluster. It installs the CRD (unless `--no-crd`) and, with
 *   `--samples`, applies the sample Tenants.
 * - In a pod (the Deployment of deploy/): on its own cluster, with the service account's rights.
 * - Otherwise, or with `--embedded`: on an embedded control plane (Envtest: etcd, kube-apiserver
 *   1.20.2, kube-controller-manager), provisioned on first use. It installs the CRD and applies the
 *   sample Tenants.
 *
 * It serves /metrics, /healthz and /readyz (`--port`, default 8080), shows a live summary, and on
 * Ctrl-C (SIGINT or SIGTERM) stops the operator, then the control plane, and removes its files.
 *
 * Flags: `--check` (converge the samples, delete one, wait for its cleanup, then exit: non-zero if
 * any of it did not happen within a minute), `--exit-after=<seconds>` (also
 * `OPERATORKIT_EXAMPLE_EXIT_AFTER`), `--port=<n>`, `--samples`, `--no-crd`, `--embedded`.
 */
import * as Os from "node:os"
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Clock, Duration, Effect, Exit, Layer, Logger, Option, Schedule } from "effect"
import { Client, Crd, Health, Informer, Kind, KubeConfig, Metrics, Patch } from "operatorkit"
import { Envtest } from "operatorkit/testing"
// not in the barrel, so that programs without tracing do not load the OpenTelemetry SDK
import * as Tracing from "operatorkit/Tracing"
import * as TenantOperator from "./operator.ts"
import { namespacesCreated } from "./resources.ts"
import { samples } from "./samples.ts"
import * as Summary from "./summary.ts"
import { Tenant, TenantCrd } from "./Tenant.ts"

// ---------------------------------------------------------------------------------------------
// Flags

const argv = process.argv.slice(2)
const flag = (name: string) => argv.includes(`--${name}`)
const valueOf = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
const known = ["check", "samples", "no-crd", "embedded", "help"]
const unknown = argv.filter((a) => !known.includes(a.slice(2)) && !/^--(exit-after|port)=/.test(a))
const usage = `usage: npm start -- [--check] [--exit-after=<seconds>] [--port=<n>] [--samples] [--no-crd] [--embedded]`

const exitAfter = valueOf("exit-after") ?? process.env["OPERATORKIT_EXAMPLE_EXIT_AFTER"]
const options = {
  check: flag("check"),
  exitAfterSeconds: exitAfter !== undefined && exitAfter !== "" ? Number(exitAfter) : undefined,
  port: valueOf("port") !== undefined ? Number(valueOf("port")) : undefined,
  samples: flag("samples"),
  installCrd: !flag("no-crd"),
  embedded: flag("embedded")
}

// ---------------------------------------------------------------------------------------------
// Output: a live block on a terminal, plain lines otherwise; log lines go above the block.

const out = process.stdout
const renderer = Summary.makeRenderer(out, out.isTTY === true && process.env["TERM"] !== "dumb")
const color = (code: string) => (text: string) => renderer.tty ? `\x1b[${code}m${text}\x1b[0m` : text
const bold = color("1")
const dim = color("2")
const say = (text: string) => Effect.sync(() => renderer.log(text))
const step = (text: string) => say(`${bold("▸")} ${text}`)

const logger = Logger.make((entry) => {
  const parts = (Array.isArray(entry.message) ? entry.message : [entry.message]).map((m) =>
    typeof m === "string" ? m : Cause.isCause(m) ? Cause.pretty(m).split("\n")[0] : JSON.stringify(m)
  )
  const level = entry.logLevel.toUpperCase()
  const time = entry.date.toISOString().slice(11, 19)
  renderer.log(dim(`${time} ${level.padEnd(5)} ${parts.join(" ")}`))
})

// ---------------------------------------------------------------------------------------------
// Where to run

type Target =
  | { readonly _tag: "Embedded" }
  | { readonly _tag: "KubeConfig"; readonly files: string }
  | { readonly _tag: "InCluster" }

const target: Target = options.embedded
  ? { _tag: "Embedded" }
  : process.env["KUBECONFIG"] !== undefined && process.env["KUBECONFIG"] !== ""
  ? { _tag: "KubeConfig", files: process.env["KUBECONFIG"] }
  : process.env["KUBERNETES_SERVICE_HOST"] !== undefined
  ? { _tag: "InCluster" }
  : { _tag: "Embedded" }

const since = (start: number) => Effect.map(Clock.currentTimeMillis, (now) => now - start)
const seconds = (millis: number) => `${(millis / 1000).toFixed(1)} s`

/** An embedded control plane for the program's scope, provisioned on first use. */
const embedded = Effect.gen(function*() {
  const assets = yield* Envtest.resolveAssets({ controllerManager: true }).pipe(
    Effect.catchTag("EnvtestError", (e) =>
      e.reason !== "AssetsMissing" ? Effect.fail(e) : Effect.andThen(
        step(
          `first run: provisioning etcd, kube-apiserver and kube-controller-manager ${Envtest.provisionedVersion} into ${Envtest.defaultAssetsDir()}\n` +
            `  (a build from source, about 5 to 15 minutes, once; its progress follows)`
        ),
        Effect.andThen(Envtest.provisionAssets, (dir) => Envtest.resolveAssets({ assets: dir, controllerManager: true }))
      ))
  )
  const start = yield* Clock.currentTimeMillis
  yield* step(
    `starting an embedded control plane: etcd ${assets.etcd.version}, kube-apiserver ${assets.kubeApiServer.version}, ` +
      `kube-controller-manager ${assets.kubeControllerManager?.version} ${dim(`(${assets.source})`)}`
  )
  // registered first, so it runs last: after the control plane is gone
  yield* Effect.addFinalizer(() => say(`${bold("▸")} control plane stopped and its files removed`))
  const env = yield* Envtest.make({ assets, controllerManager: true })
  yield* step(`control plane ready in ${seconds(yield* since(start))} at ${env.server}`)
  return env
})

// ---------------------------------------------------------------------------------------------
// The program

const withDeadline = <A, E, R>(what: string, effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutOrElse(effect, { duration: "60 seconds", orElse: () => Effect.fail(new Error(`${what} did not happen within 60 seconds`)) })

const program = Effect.gen(function*() {
  if (flag("help") || unknown.length > 0) {
    yield* say(unknown.length > 0 ? `unknown option ${unknown[0]}\n${usage}` : usage)
    return unknown.length > 0 ? yield* Effect.fail(new Error(`unknown option ${unknown[0]}`)) : undefined
  }
  yield* say(bold("operatorkit example: the Tenant operator") + dim(" (examples/tenant)"))
  const env = target._tag === "Embedded" ? yield* embedded : undefined
  const config = env !== undefined
    ? yield* KubeConfig.fromString(env.kubeconfig, { source: env.kubeconfigPath })
    : target._tag === "InCluster"
    ? yield* KubeConfig.inCluster()
    : yield* KubeConfig.fromDefault()
  if (env === undefined) yield* step(`cluster: ${config.server}${target._tag === "KubeConfig" ? ` (KUBECONFIG=${target.files})` : " (in-cluster)"}`)
  const client = yield* Client.make(config)

  const traced = process.env["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? process.env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] ??
    process.env["OTEL_TRACES_EXPORTER"]
  const Services = Layer.mergeAll(
    Crd.layer,
    Informer.layer,
    Metrics.layer({ effectMetrics: [namespacesCreated], processMetrics: true }),
    // spans go where the OTEL_* variables say; without any, nowhere
    Tracing.layer({ serviceName: "tenant-operator", ...(traced === undefined ? { exporter: "none" as const } : {}) })
  ).pipe(Layer.provide(Layer.succeed(Client.Client, client)))

  yield* Effect.scoped(operate(env, traced)).pipe(
    Effect.provide(Services),
    Effect.provideService(Client.Client, client)
  )
})

const operate = (env: Envtest.EnvtestService | undefined, traced: string | undefined) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    const started = yield* Clock.currentTimeMillis
    const installCrd = target._tag !== "InCluster" && options.installCrd
    const applySamples = env !== undefined || options.samples

    if (installCrd) {
      const crds = yield* Crd.Crd
      const { action } = yield* crds.ensureCreated(TenantCrd)
      yield* step(`CRD ${TenantCrd.name}: ${action}`)
    }

    const identity = process.env["POD_NAME"] ?? `${Os.hostname()}-${process.pid}`
    const leaseNamespace = process.env["POD_NAMESPACE"] ?? "default"
    const running = yield* TenantOperator.start({
      leaderElection: { namespace: leaseNamespace, identity },
      host: identity
    })
    yield* Effect.addFinalizer(() => step("stopping: the controller finishes its reconciles, the Lease is released"))
    yield* step(`operator started as ${identity}; leader election on Lease ${leaseNamespace}/tenant-operator`)

    const port = options.port ?? 8080
    const host = target._tag === "InCluster" ? undefined : "127.0.0.1"
    const health = yield* Health.make({ port, host }).pipe(
      // the default port is taken: any free one will do
      Effect.catchTag("HealthServerError", (e) => options.port === undefined ? Health.make({ port: 0, host }) : Effect.fail(e))
    )
    yield* step(`metrics and probes: ${health.url}/metrics  ${health.url}/healthz  ${health.url}/readyz`)
    yield* step(traced !== undefined
      ? `traces: exported as the OTEL_* variables say`
      : `traces: off ${dim("(set OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318, or OTEL_TRACES_EXPORTER=console)")}`)

    yield* running.controller.synced
    if (applySamples) {
      for (const sample of samples) {
        yield* client.patch(Tenant, { name: sample.metadata.name }, Patch.apply(sample, { fieldManager: "npm-start", force: true }))
      }
      yield* step(`applied ${samples.length} sample Tenants: ${samples.map((s) => s.metadata.name).join(", ")}`)
    }
    const appliedAt = yield* Clock.currentTimeMillis

    if (env !== undefined || target._tag === "KubeConfig") {
      yield* say([
        "",
        bold("Look around with kubectl while it runs:"),
        ...(env !== undefined ? [`  export KUBECONFIG=${env.kubeconfigPath}`] : []),
        "  kubectl get tenants",
        "  kubectl get namespaces,resourcequotas,rolebindings,configmaps -A -l app.kubernetes.io/managed-by=tenant-operator",
        "  kubectl describe tenant team-a",
        "  kubectl delete tenant team-b            # the finalizer waits for its namespace to go",
        "  kubectl edit resourcequota tenant-quota -n team-a   # drift is set back",
        `  curl -s ${health.url}/metrics | grep -E '^(controller_runtime_reconcile|operatorkit_)'`,
        `Ctrl-C stops the operator${env !== undefined ? " and the control plane, and removes its files" : ""}.`,
        ""
      ].join("\n"))
    }

    // the live summary, about once a second
    const read = yield* Summary.makeReader(running)
    let convergedAfter: number | undefined
    let lastPrinted = ""
    let lastPrintedAt = 0
    const refresh = Effect.gen(function*() {
      const figures = yield* read
      const now = yield* Clock.currentTimeMillis
      if (figures.converged && convergedAfter === undefined && applySamples) convergedAfter = now - appliedAt
      if (renderer.tty) {
        const width = Math.max(20, (out.columns ?? 100) - 1)
        const lines = [`── ${seconds(now - started)} ${"─".repeat(60)}`, ...Summary.block(figures, convergedAfter)]
        // a line wider than the terminal would wrap and break the redraw
        renderer.show(lines.map((l, i) => (i === 0 ? dim(l.slice(0, width)) : l.slice(0, width))))
      } else if (Summary.fingerprint(figures) !== lastPrinted || now - lastPrintedAt >= 30_000) {
        lastPrinted = Summary.fingerprint(figures)
        lastPrintedAt = now
        renderer.log(`[${seconds(now - started).padStart(7)}] ${Summary.line(figures)}`)
      }
      return figures
    })
    yield* Effect.addFinalizer(() => Effect.sync(renderer.done))
    yield* refresh.pipe(Effect.repeat(Schedule.spaced("1 second")), Effect.forkScoped)

    if (options.check) {
      yield* withDeadline("convergence of the sample Tenants", refresh.pipe(Effect.repeat({
        schedule: Schedule.spaced("200 millis"),
        until: (f) => f.converged && f.tenants.ready === samples.length
      })))
      const converged = yield* since(appliedAt)
      const victim = samples[samples.length - 1]!.metadata.name
      yield* step(`check: ${samples.length} Tenants Ready ${seconds(converged)} after they were applied; deleting ${victim}`)
      const deletedAt = yield* Clock.currentTimeMillis
      yield* client.delete(Tenant, { name: victim })
      const exists = (kind: Kind.Any) =>
        client.get(kind, { name: victim }).pipe(Effect.as(true), Effect.catchTag("NotFound", () => Effect.succeed(false)))
      yield* withDeadline(`cleanup of ${victim}`, Effect.gen(function*() {
        while ((yield* exists(Tenant)) || (yield* exists(Kind.Namespace))) yield* Effect.sleep("200 millis")
      }))
      yield* refresh
      yield* step(`check passed: Tenant ${victim} and its namespace were gone ${seconds(yield* since(deletedAt))} after the delete`)
      return
    }
    if (options.exitAfterSeconds !== undefined) {
      yield* Effect.sleep(Duration.seconds(options.exitAfterSeconds))
      yield* refresh
      yield* step(`exiting after ${options.exitAfterSeconds} s as asked`)
      return
    }
    return yield* Effect.never
  })

const main = program.pipe(
  Effect.scoped,
  Effect.tapCause((cause) =>
    Cause.hasInterruptsOnly(cause)
      ? Effect.void
      : say(`\n${bold("error:")} ${Option.match(Cause.findErrorOption(cause), {
        onNone: () => Cause.pretty(cause),
        onSome: (e) => (e instanceof Error || (typeof e === "object" && e !== null && "message" in e) ? String((e as Error).message) : String(e))
      })}`)
  ),
  Effect.provide(Logger.layer([logger]))
)

if (import.meta.main) {
  NodeRuntime.runMain(main, {
    disableErrorReporting: true,
    // Ctrl-C and SIGTERM ask for a clean stop: once everything is stopped, that is success
    teardown: (exit, onExit) => {
      if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) {
        if (Exit.isFailure(exit)) renderer.log(`${bold("▸")} stopped`)
        return onExit(0)
      }
      onExit(1)
    }
  })
}
