/**
 * `npm start`: the Tenant operator, running.
 *
 * Where it runs:
 * - `KUBECONFIG` is set: on that cluster. It installs the CRD when missing (unless `--no-crd`; one
 *   already there, deploy/'s with v1beta1 and its conversion, is left as it is) and, with
 *   `--samples`, applies the sample Tenants. It does not serve the webhooks there (that cluster's
 *   API server cannot call this machine; deploy/ runs them in the cluster).
 * - In a pod (the Deployment of deploy/operator.yaml): on its own cluster, with the service
 *   account's rights, serving the webhooks behind the Service `tenant-operator-webhooks`.
 * - Otherwise, or with `--embedded`: on an embedded control plane (Envtest: etcd, kube-apiserver
 *   1.20.2, kube-controller-manager), provisioned on first use. It serves the webhooks on
 *   127.0.0.1 (kube-apiserver calls them by URL), installs the CRD with both versions and
 *   `conversion: Webhook`, and applies the sample Tenants.
 *
 * It serves /healthz and /readyz, and /metrics (plain on the probes' port, or over HTTPS on its
 * own with `--metrics-secure`), shows a live summary, and on Ctrl-C (SIGINT or SIGTERM) stops the
 * operator, then the control plane, and removes its files.
 *
 * Flags: those of `Manifests.parseFlags`, which the generated Deployment passes: `--health-port=<n>`
 * (default here 8080), `--metrics-port=<n>`, `--metrics-secure` / `--metrics-insecure` (default
 * here plain), `--leader-elect[=false]` (default here on), `--webhook-port=<n>` (default 9443),
 * `--kube-api-qps=<n>` and `--kube-api-burst=<n>` (the Client's rate limit; none by default); a
 * default port that is taken is replaced by a free one. Its own: `--check` (converge the samples,
 * see the webhooks refuse a duplicate display name and convert to v1beta1 and back, delete a Tenant
 * and wait for its cleanup, then exit: non-zero if any of it did not happen within a minute),
 * `--exit-after=<seconds>` (also `OPERATORKIT_EXAMPLE_EXIT_AFTER`), `--samples`, `--no-crd`,
 * `--embedded`, `--help`.
 */
import * as Os from "node:os"
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Clock, Duration, Effect, Exit, Layer, Logger, Option, Schedule, Schema } from "effect"
import { Client, Crd, Health, Informer, Kind, KubeConfig, Manifests, Metrics, Patch, Webhooks } from "operatorkit"
import { Envtest } from "operatorkit/testing"
// not in the barrel, so that programs without tracing do not load the OpenTelemetry SDK
import * as Tracing from "operatorkit/Tracing"
import * as TenantOperator from "./operator.ts"
import { namespacesCreated } from "./resources.ts"
import { samples } from "./samples.ts"
import * as Summary from "./summary.ts"
import { Tenant, TenantCrd } from "./Tenant.ts"
import { certificates, TenantCrdV1beta1, TenantV1beta1, tenantWebhooks, TenantWebhooks } from "./webhooks.ts"

// ---------------------------------------------------------------------------------------------
// Flags

const usage = `usage: npm start -- [--check] [--exit-after=<seconds>] [--samples] [--no-crd] [--embedded]
         [--health-port=<n>] [--metrics-port=<n>] [--metrics-secure | --metrics-insecure] [--leader-elect[=false]] [--webhook-port=<n>]
         [--kube-api-qps=<n>] [--kube-api-burst=<n>]`

/** A value of one of main.ts's own flags that it cannot take. */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  flag: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.flag}: ${this.detail}`
  }
}

/** What main.ts runs with. */
export interface Options {
  /** The settings the Deployment passes (`Manifests.flags`). */
  readonly flags: Manifests.Flags
  /** Which ports were given: a default one that is taken is replaced by a free one. */
  readonly given: { readonly healthPort: boolean; readonly metricsPort: boolean; readonly webhookPort: boolean }
  readonly check: boolean
  readonly exitAfterSeconds: number | undefined
  readonly samples: boolean
  readonly installCrd: boolean
  readonly embedded: boolean
  readonly help: boolean
}

const own = ["--check", "--samples", "--no-crd", "--embedded", "--help"]

/**
 * main.ts's arguments: `Manifests.parseFlags`' (with this program's defaults for a run on a
 * developer's machine: probes and plain metrics on 8080, leader election on), then its own; any
 * other is a `FlagError` (`Unknown`).
 */
export const parseArgs = (argv: ReadonlyArray<string>, exitAfterVariable?: string) =>
  Effect.gen(function*() {
    const flags = yield* Manifests.parseFlags(argv, { healthPort: 8080, secureMetrics: false, leaderElection: true })
    let exitAfter = exitAfterVariable !== undefined && exitAfterVariable !== "" ? exitAfterVariable : undefined
    for (const arg of flags.rest) {
      if (arg.startsWith("--exit-after=")) exitAfter = arg.slice("--exit-after=".length)
      else if (!own.includes(arg)) {
        const eq = arg.indexOf("=")
        return yield* new Manifests.FlagError({ flag: eq === -1 ? arg : arg.slice(0, eq), value: eq === -1 ? undefined : arg.slice(eq + 1), reason: "Unknown" })
      }
    }
    const exitAfterSeconds = exitAfter !== undefined ? Number(exitAfter) : undefined
    if (exitAfterSeconds !== undefined && !(exitAfter !== "" && Number.isFinite(exitAfterSeconds) && exitAfterSeconds >= 0)) {
      return yield* new UsageError({ flag: "--exit-after", detail: `takes a number of seconds, not ${JSON.stringify(exitAfter)}` })
    }
    const given = (flag: string) => argv.some((a) => a.startsWith(`${flag}=`))
    return {
      flags,
      given: { healthPort: given("--health-port"), metricsPort: given("--metrics-port"), webhookPort: given("--webhook-port") },
      check: flags.rest.includes("--check"),
      exitAfterSeconds,
      samples: flags.rest.includes("--samples"),
      installCrd: !flags.rest.includes("--no-crd"),
      embedded: flags.rest.includes("--embedded"),
      help: flags.rest.includes("--help")
    } satisfies Options
  })

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

const targetOf = (options: Options): Target =>
  options.embedded
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

/** A default port that is taken: any free one will do (a port given as a flag is kept, and its failure reported). */
const orFreePort = <A, E, R>(
  given: boolean,
  listen: (port: number | undefined) => Effect.Effect<A, E, R>,
  taken: (e: E) => boolean
) => listen(undefined).pipe(Effect.catchIf((e) => !given && taken(e), () => listen(0)))

const program = Effect.gen(function*() {
  const options = yield* parseArgs(process.argv.slice(2), process.env["OPERATORKIT_EXAMPLE_EXIT_AFTER"]).pipe(
    Effect.tapError(() => say(usage))
  )
  if (options.help) return yield* say(usage)
  const target = targetOf(options)
  yield* say(bold("operatorkit example: the Tenant operator") + dim(" (examples/tenant)"))
  const env = target._tag === "Embedded" ? yield* embedded : undefined
  const config = env !== undefined
    ? yield* KubeConfig.fromString(env.kubeconfig, { source: env.kubeconfigPath })
    : target._tag === "InCluster"
    ? yield* KubeConfig.inCluster()
    : yield* KubeConfig.fromDefault()
  if (env === undefined) yield* step(`cluster: ${config.server}${target._tag === "KubeConfig" ? ` (KUBECONFIG=${target.files})` : " (in-cluster)"}`)
  const { qps, burst } = options.flags
  const client = yield* Client.make(config, { ...(qps !== undefined ? { qps } : {}), ...(burst !== undefined ? { burst } : {}) })

  const traced = process.env["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? process.env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] ??
    process.env["OTEL_TRACES_EXPORTER"]
  const Services = Layer.mergeAll(
    Crd.layer,
    Informer.layer,
    Metrics.layer({ effectMetrics: [namespacesCreated], processMetrics: true }),
    // spans go where the OTEL_* variables say; without any, nowhere
    Tracing.layer({ serviceName: "tenant-operator", ...(traced === undefined ? { exporter: "none" as const } : {}) })
  ).pipe(Layer.provide(Layer.succeed(Client.Client, client)))

  yield* Effect.scoped(operate(options, target, env, traced)).pipe(
    Effect.provide(Services),
    Effect.provideService(Client.Client, client)
  )
})

const duplicateName = "team-a-twin"

/**
 * A Tenant with team-a's display name, created (a dry run while `dryRun`) until the admission
 * webhook refuses it: the API server calls a webhook a moment after its configuration is written.
 */
const refusedDuplicate = (dryRun: boolean) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    const original = samples[0]!
    const twin = { ...original, metadata: { name: duplicateName }, spec: { ...original.spec, owner: "mallory" } }
    while (true) {
      const created = yield* Effect.result(client.create(Tenant, twin, { dryRun }))
      if (created._tag === "Failure") {
        if (created.failure._tag === "Invalid") return created.failure
        return yield* created.failure
      }
      if (!dryRun) return yield* Effect.fail(new Error(`the Tenant ${duplicateName} was admitted with team-a's display name`))
      yield* Effect.sleep("200 millis")
    }
  })

const operate = (options: Options, target: Target, env: Envtest.EnvtestService | undefined, traced: string | undefined) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    const started = yield* Clock.currentTimeMillis
    const { flags } = options
    const installCrd = target._tag !== "InCluster" && options.installCrd
    const applySamples = env !== undefined || options.samples
    const host = target._tag === "InCluster" ? undefined : "127.0.0.1"
    const podNamespace = process.env["POD_NAMESPACE"] ?? "default"

    // the webhooks: in a pod behind the Service of deploy/; on the embedded control plane at their
    // own URL on 127.0.0.1; not on a cluster of KUBECONFIG (its API server cannot call this machine)
    const serveWebhooks = target._tag !== "KubeConfig"
    const crd = serveWebhooks ? TenantCrdV1beta1 : TenantCrd
    const crdExisted = installCrd
      ? yield* client.get(Kind.CustomResourceDefinition, { name: crd.name }).pipe(Effect.as(true), Effect.catchTag("NotFound", () => Effect.succeed(false)))
      : true
    let webhooks: Webhooks.WebhooksService | undefined
    if (serveWebhooks) {
      const definition = target._tag === "InCluster" ? TenantWebhooks : tenantWebhooks()
      // the CA Secret is shared by the replicas; the layer writes the webhook configuration and the
      // CRD's conversion (creating the CRD when it is missing) with the CA bundle
      webhooks = yield* orFreePort(options.given.webhookPort, (port) =>
        Webhooks.serve(definition, { certificates: certificates(podNamespace), port: port ?? flags.webhookPort, ...(host !== undefined ? { host } : {}) }), (e) =>
        e._tag === "WebhookServerError" && e.reason === "Listen")
    }
    if (installCrd && !serveWebhooks && crdExisted) {
      // it may be deploy/'s, with v1beta1 and the conversion webhook: the v1alpha1-only CRD would take them away
      yield* step(`CRD ${crd.name}: exists, left as it is ` + dim("(installed by deploy/ or an earlier run)"))
    } else if (installCrd) {
      const crds = yield* Crd.Crd
      const desired = webhooks !== undefined
        ? Webhooks.crd(tenantWebhooks(), crd, { clientConfig: webhooks.clientConfig, caBundle: yield* webhooks.caBundle })
        : crd
      const { action } = yield* crds.ensureCreated(desired)
      yield* step(`CRD ${crd.name}: ${crdExisted ? action : "created"} ` + dim(
        webhooks !== undefined
          ? `(v1alpha1 stored, v1beta1 served; conversion: Webhook at ${webhooks.url}/convert)`
          : "(v1alpha1)"
      ))
    }
    yield* step(webhooks !== undefined
      ? `webhooks: ${webhooks.url} ${dim("(validate: display names unique; convert: v1alpha1 ⇄ v1beta1; certificates made in-process, the CA in Secret " +
        `${podNamespace}/tenant-operator-webhook-ca)`)}`
      : `webhooks: off ${dim("(the API server of KUBECONFIG's cluster cannot call this machine; deploy/ serves them in the cluster)")}`)

    const identity = process.env["POD_NAME"] ?? `${Os.hostname()}-${process.pid}`
    const running = yield* TenantOperator.start({
      ...(flags.leaderElection ? { leaderElection: { namespace: podNamespace, identity } } : {}),
      host: identity
    })
    yield* Effect.addFinalizer(() => step(`stopping: the controller finishes its reconciles${flags.leaderElection ? ", the Lease is released" : ""}`))
    yield* step(`operator started as ${identity}; ${flags.leaderElection ? `leader election on Lease ${podNamespace}/tenant-operator` : "no leader election"}`)

    const health = yield* orFreePort(options.given.healthPort, (port) =>
      Health.make({
        port: port ?? flags.healthPort,
        host,
        ...(flags.secureMetrics ? { secureMetrics: { port: options.given.metricsPort || port === undefined ? flags.metricsPort : 0, host } } : {})
      }), (e) => e._tag === "HealthServerError")
    yield* step(health.metricsUrl !== undefined
      ? `probes: ${health.url}/healthz  ${health.url}/readyz; metrics: ${health.metricsUrl} ${dim("(HTTPS, for tokens allowed to get /metrics)")}`
      : `metrics and probes: ${health.url}/metrics  ${health.url}/healthz  ${health.url}/readyz`)
    yield* step(traced !== undefined
      ? `traces: exported as the OTEL_* variables say`
      : `traces: off ${dim("(set OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318, or OTEL_TRACES_EXPORTER=console)")}`)

    yield* running.controller.synced
    if (applySamples) {
      for (const sample of samples) {
        yield* client.patch(Tenant, { name: sample.metadata.name }, Patch.apply(sample, { fieldManager: "npm-start", force: true }))
      }
      yield* step(`applied ${samples.length} sample Tenants: ${samples.map((s) => s.metadata.name).join(", ")}`)
      if (webhooks !== undefined) {
        const refused = yield* withDeadline("the admission webhook answering", refusedDuplicate(true))
        yield* step(`webhooks answering: a Tenant with team-a's display name is refused ${dim(`(${refused.causes.map((c) => `${c.field}: ${c.message}`).join("; ")})`)}`)
      }
    }
    const appliedAt = yield* Clock.currentTimeMillis

    if (env !== undefined || target._tag === "KubeConfig") {
      yield* say([
        "",
        bold("Look around with kubectl while it runs:"),
        ...(env !== undefined ? [`  export KUBECONFIG=${env.kubeconfigPath}`] : []),
        "  kubectl get tenants",
        ...(webhooks !== undefined ? ["  kubectl get tenants.v1beta1.tenancy.example.com     # the same Tenants in v1beta1, converted by the webhook"] : []),
        "  kubectl get namespaces,resourcequotas,rolebindings,configmaps -A -l app.kubernetes.io/managed-by=tenant-operator",
        "  kubectl describe tenant team-a",
        "  kubectl delete tenant team-b            # the finalizer waits for its namespace to go",
        "  kubectl edit resourcequota tenant-quota -n team-a   # drift is set back",
        ...(health.metricsUrl === undefined ? [`  curl -s ${health.url}/metrics | grep -E '^(controller_runtime_(reconcile|webhook)|operatorkit_)'`] : []),
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
      yield* step(`check: ${samples.length} Tenants Ready ${seconds(converged)} after they were applied`)
      if (webhooks !== undefined) yield* checkWebhooks
      const victim = samples[samples.length - 1]!.metadata.name
      yield* step(`check: deleting ${victim}`)
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

/**
 * --check's webhook part, on the API server: the admission webhook refuses a duplicate display
 * name with its field path; team-a reads as v1beta1 (owners), and team-b written through v1beta1
 * with two owners reads as v1alpha1 with the first, and as v1beta1 with both again.
 */
const checkWebhooks = Effect.gen(function*() {
  const client = yield* Client.Client
  const refused = yield* refusedDuplicate(false)
  const cause = refused.causes.find((c) => c.field === "spec.displayName")
  if (cause === undefined) return yield* Effect.fail(new Error(`the duplicate was refused without naming spec.displayName: ${refused.message}`))
  yield* step(`check: the webhook refused Tenant ${duplicateName}: ${cause.field}: ${cause.message}`)
  const crd = yield* client.get(Kind.CustomResourceDefinition, { name: TenantCrdV1beta1.name })
  const conversion = crd.spec.conversion as { strategy?: string; webhook?: { clientConfig?: { caBundle?: string } } } | undefined
  if (conversion?.strategy !== "Webhook" || conversion.webhook?.clientConfig?.caBundle === undefined) {
    return yield* Effect.fail(new Error(`the CRD's conversion is not a webhook with a CA bundle: ${JSON.stringify(conversion)}`))
  }
  const teamA = yield* client.get(TenantV1beta1, { name: "team-a" })
  if (JSON.stringify(teamA.spec.owners) !== JSON.stringify(["alice"])) {
    return yield* Effect.fail(new Error(`team-a read as v1beta1 has owners ${JSON.stringify(teamA.spec.owners)}, not ["alice"]`))
  }
  yield* client.patch(TenantV1beta1, { name: "team-b" }, Patch.merge({ spec: { owners: ["bob", "dave"] } }))
  const stored = yield* client.get(Tenant, { name: "team-b" })
  const back = yield* client.get(TenantV1beta1, { name: "team-b" })
  if (stored.spec.owner !== "bob" || JSON.stringify(back.spec.owners) !== JSON.stringify(["bob", "dave"])) {
    return yield* Effect.fail(new Error(`team-b through v1beta1: v1alpha1 owner ${stored.spec.owner}, v1beta1 owners ${JSON.stringify(back.spec.owners)}`))
  }
  yield* step(`check: team-a read as v1beta1 has owners ["alice"]; team-b written as v1beta1 with owners ["bob","dave"] reads as v1alpha1 with owner bob and as v1beta1 with both`)
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
