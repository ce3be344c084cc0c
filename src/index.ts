/**
 * operatorkit: Kubernetes operators as Effect programs.
 *
 * One namespace per module. `Tracing` is not in this barrel, so that programs without tracing do
 * not load the OpenTelemetry SDK: import it by path, `import * as Tracing from "operatorkit/Tracing"`.
 * Test code (the in-memory API server, Envtest, `eventually`) is `operatorkit/testing`: nothing
 * here loads it.
 *
 * @since 0.1.0
 */

/**
 * Admission webhooks from a kind's Schema: validation with the API server's field errors and
 * warnings, defaulting as a JSON Patch; the AdmissionReview handlers.
 *
 * @since 0.1.0
 */
export * as Admission from "./Admission.ts"

/**
 * The `Client` service: every Kubernetes API call as a typed Effect.
 *
 * @since 0.1.0
 */
export * as Client from "./Client.ts"

/**
 * Controllers: run Resources for every object of a kind, with finalizers and a work queue.
 *
 * @since 0.1.0
 */
export * as Controller from "./Controller.ts"

/**
 * Conversion of a CRD's objects between its versions from their Schemas, lossless; the
 * ConversionReview handler.
 *
 * @since 0.1.0
 */
export * as Conversion from "./Conversion.ts"

/**
 * The `Crd` service: CRDs installed (waiting until Established) and removed; their migration.
 *
 * @since 0.1.0
 */
export * as Crd from "./Crd.ts"

/**
 * CustomResourceDefinitions generated from the Schemas that decode their objects; manifests as YAML
 * or JSON.
 *
 * @since 0.1.0
 */
export * as CrdDefinition from "./CrdDefinition.ts"

/**
 * Storage-version migration of a CRD's stored objects, resumable.
 *
 * @since 0.1.0
 */
export * as CrdMigration from "./CrdMigration.ts"

/**
 * Kubernetes Events: a recorder that aggregates repeats and rate limits per object.
 *
 * @since 0.1.0
 */
export * as Events from "./Events.ts"

/**
 * A controller's own names (finalizer, pause annotation, operatorkit 0.1's) and adding / removing
 * its finalizer by the rules.
 *
 * @since 0.1.0
 */
export * as Finalizers from "./Finalizers.ts"

/**
 * The Resource interface, its CRUD form, reconcile values and combinators.
 *
 * @since 0.1.0
 */
export * as Framework from "./Framework.ts"

/**
 * The HTTP endpoints: /metrics, /healthz and /readyz on one port.
 *
 * @since 0.1.0
 */
export * as Health from "./Health.ts"

/**
 * A deterministic list+watch informer with a shared Store: a Watcher feeding a Reflector, dispatched
 * to subscribers.
 *
 * @since 0.1.0
 */
export * as Informer from "./Informer.ts"

/**
 * Typed descriptors of API kinds and the Schemas their objects decode with.
 *
 * @since 0.1.0
 */
export * as Kind from "./Kind.ts"

/**
 * Where the cluster is and how to authenticate.
 *
 * @since 0.1.0
 */
export * as KubeConfig from "./KubeConfig.ts"

/**
 * The typed errors of API calls.
 *
 * @since 0.1.0
 */
export * as KubeError from "./KubeError.ts"

/**
 * Leader election on a Lease: controllers reconcile only while their process leads.
 *
 * @since 0.1.0
 */
export * as LeaderElection from "./LeaderElection.ts"

/**
 * An operator as deployed: CRDs, RBAC, ServiceAccount, Deployment, metrics Service, ServiceMonitor; its Dockerfile.
 *
 * @since 0.1.0
 */
export * as Manifests from "./Manifests.ts"

/**
 * Prometheus metrics under controller-runtime's names on a prom-client Registry.
 *
 * @since 0.1.0
 */
export * as Metrics from "./Metrics.ts"

/**
 * Resources for objects a controller creates for each of its objects (owned ConfigMaps, Secrets, …).
 *
 * @since 0.1.0
 */
export * as Owned from "./Owned.ts"

/**
 * JSON, merge, strategic merge and server-side apply patches.
 *
 * @since 0.1.0
 */
export * as Patch from "./Patch.ts"

/**
 * Least-privilege RBAC from what each part of the operator declares it calls.
 *
 * @since 0.1.0
 */
export * as Rbac from "./Rbac.ts"

/**
 * A Watcher's events applied to a Store, uid-aware, each version once.
 *
 * @since 0.1.0
 */
export * as Reflector from "./Reflector.ts"

/**
 * Several replicas sharing a controller's objects: shard Leases, an elected sharder labelling
 * objects over a consistent-hash ring, label-selected watches per replica, drain hand-off, fencing.
 *
 * @since 0.1.0
 */
export * as Sharding from "./Sharding.ts"

/**
 * Status conditions and writes through the /status subresource.
 *
 * @since 0.1.0
 */
export * as Status from "./Status.ts"

/**
 * The informer cache: objects by key and by index.
 *
 * @since 0.1.0
 */
export * as Store from "./Store.ts"

/**
 * What a controller watches besides its kind (owns, watches) and which updates count (predicates).
 *
 * @since 0.1.0
 */
export * as Watch from "./Watch.ts"

/**
 * List + watch as one stream of events: resume, relist after 410, backoff.
 *
 * @since 0.1.0
 */
export * as Watcher from "./Watcher.ts"

/**
 * The controller's work queue: keys not events, one worker per key, delays, backoff, fairness.
 *
 * @since 0.1.0
 */
export * as WorkQueue from "./WorkQueue.ts"

/**
 * An operator's webhooks served over HTTPS: the Admission and Conversion handlers, the webhook
 * configurations and the CRDs' conversion ensured, certificates made, shared and rotated
 * in-process (or reloaded from files), controller-runtime's webhook metrics.
 *
 * @since 0.1.0
 */
export * as Webhooks from "./Webhooks.ts"
