/**
 * The Tenant operator: a Controller running the resources of resources.ts for every Tenant, with
 * an Event recorder and, when asked, leader election. It needs only a `Client` (and uses the
 * shared `Informer.Informers` when one is in context).
 *
 * ```ts
 * const Operator = TenantOperator.layer({ leaderElection: { namespace: "tenant-operator" } }).pipe(
 *   Layer.provide(Client.layer()),
 *   Layer.provide(KubeConfig.layer())
 * )
 * ```
 */
import { Cause, Duration, Effect, Layer, Option } from "effect"
import { Client, Controller, Events, Kind, LeaderElection, Rbac, Watch } from "operatorkit"
import { controllerName, managedBy, resources, setReady } from "./resources.ts"
import { Tenant } from "./Tenant.ts"

export interface Options {
  /** Only Tenants with these labels (to shard Tenants over several operators, or to isolate tests). */
  readonly labelSelector?: string | undefined
  /** Elect a leader on a Lease in this namespace (several replicas: one reconciles). Default: always lead. */
  readonly leaderElection?: {
    readonly namespace: string
    readonly identity?: string | undefined
    readonly leaseDuration?: Duration.Input | undefined
    readonly renewDeadline?: Duration.Input | undefined
    readonly retryPeriod?: Duration.Input | undefined
  } | undefined
  /** Tenants reconciled at once (default 4). */
  readonly concurrency?: number | undefined
  /** The `source.host` of its Events (e.g. the pod's name). */
  readonly host?: string | undefined
}

const message = (cause: Cause.Cause<unknown>) => {
  const error = Cause.squash(cause)
  return error instanceof Error || (typeof error === "object" && error !== null && "message" in error)
    ? String((error as { message: unknown }).message)
    : String(error)
}

/** The controller's options (what it is given: its RBAC is derived from them too). */
export const controllerOptions = (options: Options = {}) => ({
  name: controllerName,
  kind: Tenant,
  resources,
  labelSelector: options.labelSelector,
  concurrency: options.concurrency,
  // spec, labels, annotations and deletion; not status-only updates (others' or our own)
  predicates: [Watch.any(Watch.generationChanged, Watch.labelsChanged, Watch.annotationsChanged)],
  watches: [
    // any change of a namespace brings back the Tenant of the same name (also a foreign
    // namespace that blocked it, once it is deleted)
    Watch.watches(Kind.Namespace, (ns) => [ns.metadata.name]),
    // a change or deletion of what it owns brings the owner back (drift is repaired)
    Watch.owns(Kind.ResourceQuota, { labelSelector: managedBy }),
    Watch.owns(Kind.RoleBinding, { labelSelector: managedBy }),
    Watch.owns(Kind.ConfigMap, { labelSelector: managedBy })
  ]
})

/**
 * What the operator needs from RBAC, each part declaring its own: the controller (its Tenants,
 * finalizer, watches, the calls its resources declare, Warning Events), and the Lease of leader
 * election in the namespace it runs in. (The CRD is installed by whoever deploys it.)
 */
export const rbac = Rbac.make({
  name: controllerName,
  namespace: "tenant-operator",
  permissions: [
    Controller.permissions(controllerOptions()),
    LeaderElection.permissions({ name: controllerName })
  ]
})

/** The controller alone; it runs until the scope closes. */
export const controller = (options: Options = {}) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    return yield* Controller.make({
      ...controllerOptions(options),
      // the failure is already logged, retried with backoff, and (with a Recorder) a Warning Event;
      // the Tenant's status says it too
      onError: (failure) =>
        failure.object === undefined ? Effect.void : setReady(failure.object, "False", "ReconcileError", message(failure.cause)).pipe(
          Effect.provideService(Client.Client, client),
          Effect.ignore
        )
    })
  })

/** The handles of a running operator. */
export interface Running {
  readonly controller: Controller.Controller<Tenant>
  readonly events: Events.RecorderService
  readonly elector: LeaderElection.Elector | undefined
}

/**
 * Starts the operator in the current scope: the Event recorder, the Lease elector (when asked) and
 * the controller. When the scope closes they stop in reverse order: the controller first (its
 * reconciles finish), then the elector releases the Lease, then the recorder flushes.
 */
export const start = (options: Options = {}) =>
  Effect.gen(function*() {
    const events = yield* Events.make({ component: controllerName, host: options.host })
    const election = options.leaderElection
    const elector = election === undefined ? undefined : yield* LeaderElection.make({
      name: controllerName,
      namespace: election.namespace,
      identity: election.identity,
      leaseDuration: election.leaseDuration,
      renewDeadline: election.renewDeadline,
      retryPeriod: election.retryPeriod
    })
    const running = controller(options).pipe(Effect.provideService(Events.Recorder, events))
    const c = yield* (elector === undefined ? running : Effect.provideService(running, LeaderElection.Leadership, elector))
    return { controller: c, events, elector } satisfies Running
  })

/** The operator as a Layer: it runs while the Layer is alive. */
export const layer = (options: Options = {}) => Layer.effectDiscard(start(options))

/** Whether a Tenant is Ready for its current spec. */
export const isReady = (tenant: Tenant) =>
  Option.match(Option.fromUndefinedOr(tenant.status?.conditions?.find((c) => c.type === "Ready")), {
    onNone: () => false,
    onSome: (c) => c.status === "True" && c.observedGeneration === tenant.metadata.generation
  })
