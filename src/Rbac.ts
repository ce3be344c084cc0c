/**
 * Least-privilege RBAC from what the operator does. Each part of an operator declares the API
 * calls it makes, derived from what it is given: a Controller its kind (list, watch; get and patch
 * for its finalizer), its watches and the calls its Resources declare; an Informer its kind; the
 * Events recorder the Events it writes; leader election its Lease; the Crd service the CRDs it
 * ensures; secure metrics their TokenReviews and SubjectAccessReviews. A {@link Declaration}
 * gathers them for one ServiceAccount, and becomes the least ClusterRole and Roles with their
 * bindings ({@link manifests}, {@link toYaml}; `npx operatorkit rbac <module>` prints them).
 *
 * - A permission is `(group, resource, subresource, verbs, namespace, names)`. No namespace means
 *   every namespace (or a cluster-scoped kind): a ClusterRole. A namespace gives a Role there;
 *   {@link operatorNamespace} stands for the namespace the operator runs in.
 * - Names (`resourceNames`) restrict only the verbs that name an object (get, update, patch,
 *   delete, …): RBAC cannot restrict `create`, `list`, `watch` or `deletecollection` by name, so
 *   those are granted without names.
 * - A permission that another one already covers (the same verbs cluster-wide, or without names)
 *   is left out; the rest merge into as few rules as keep them exact.
 * - Under-declaring shows in tests: the guard Client of `operatorkit/testing` (`RbacGuard`) checks
 *   every call against a declaration and fails one outside it with the missing rule. On a real
 *   cluster a missing rule is a `KubeError.Forbidden` naming the verb, resource and namespace.
 *
 * @since 0.1.0
 */
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import { documentWithComments } from "./internal/manifests/yaml.ts"
import type * as Kind from "./Kind.ts"

/**
 * The verbs RBAC knows. The first eight are the API's; `bind` and `escalate` are checked when
 * creating (cluster) role bindings and roles, `impersonate` for impersonation, `use` for pod
 * security policies, `approve` and `sign` for certificate signing requests.
 *
 * @since 0.1.0
 * @category models
 */
export type Verb =
  | "get"
  | "list"
  | "watch"
  | "create"
  | "update"
  | "patch"
  | "delete"
  | "deletecollection"
  | "bind"
  | "escalate"
  | "impersonate"
  | "use"
  | "approve"
  | "sign"

/**
 * The verbs of a non-resource URL (`/metrics`, `/healthz`): the HTTP method in lower case.
 *
 * @since 0.1.0
 * @category models
 */
export type NonResourceVerb = "get" | "post" | "put" | "patch" | "delete" | "head"

/**
 * The namespace the operator runs in, wherever it is deployed (the ServiceAccount's namespace).
 *
 * @since 0.1.0
 * @category models
 */
export interface OperatorNamespace {
  readonly _tag: "OperatorNamespace"
}

/**
 * Stands for the namespace the operator runs in (its ServiceAccount's), resolved when the roles are
 * made; leader election keeps its Lease there by default.
 *
 * @example
 * ```ts
 * import { Kind, Rbac } from "operatorkit"
 *
 * const lease = Rbac.allow(Kind.Lease, ["get", "update"], { namespace: Rbac.operatorNamespace, names: ["my-operator"] })
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const operatorNamespace: OperatorNamespace = { _tag: "OperatorNamespace" }

/**
 * Calls on one resource (or subresource) of an API group.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResourcePermission {
  readonly _tag: "ResourcePermission"
  /** "" for the core group. */
  readonly group: string
  /** The plural, e.g. `configmaps`. */
  readonly resource: string
  /** e.g. `status`; undefined for the resource itself. */
  readonly subresource: string | undefined
  readonly verbs: ReadonlyArray<Verb>
  /** Undefined: every namespace (or a cluster-scoped resource). */
  readonly namespace: string | OperatorNamespace | undefined
  /** Only these objects (`resourceNames`); undefined: any. */
  readonly names: ReadonlyArray<string> | undefined
  /** Who needs it and why (a comment over the generated rule). */
  readonly reason: string | undefined
}

/**
 * Calls on URLs outside the API (`/metrics`, `/healthz`); only a ClusterRole grants them.
 *
 * @since 0.1.0
 * @category models
 */
export interface NonResourcePermission {
  readonly _tag: "NonResourcePermission"
  readonly urls: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<NonResourceVerb>
  readonly reason: string | undefined
}

/**
 * One declared need.
 *
 * @since 0.1.0
 * @category models
 */
export type Permission = ResourcePermission | NonResourcePermission

/**
 * Options of {@link allow}.
 *
 * @since 0.1.0
 * @category models
 */
export interface AllowOptions {
  /** Only in this namespace (ignored for a cluster-scoped kind). Default: every namespace. */
  readonly namespace?: string | OperatorNamespace | undefined
  /** Only these objects (verbs that name an object; see the module doc). */
  readonly names?: ReadonlyArray<string> | undefined
  /** A subresource of the kind, e.g. `status`. */
  readonly subresource?: "status" | "scale" | (string & {}) | undefined
  /** Why (shown over the generated rule). */
  readonly reason?: string | undefined
}

/**
 * Calls on a kind: its group and plural come from the `Kind`, so they cannot be misspelt, and the
 * verbs are RBAC's.
 *
 * @example
 * ```ts
 * import { Kind, Rbac } from "operatorkit"
 *
 * // read and delete namespaces; write the status of Deployments in "web"
 * const needs = [
 *   Rbac.allow(Kind.Namespace, ["get", "delete"]),
 *   Rbac.allow(Kind.Deployment, ["get", "update"], { subresource: "status", namespace: "web" })
 * ]
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const allow = (kind: Kind.Any, verbs: ReadonlyArray<Verb>, options: AllowOptions = {}): ResourcePermission => ({
  _tag: "ResourcePermission",
  group: kind.group,
  resource: kind.plural,
  subresource: options.subresource,
  verbs: [...verbs],
  namespace: kind.namespaced ? options.namespace : undefined,
  names: options.names === undefined ? undefined : [...options.names],
  reason: options.reason
})

/**
 * Calls on a resource named by its group and plural, for APIs without a `Kind` value.
 *
 * @example
 * ```ts
 * import { Rbac } from "operatorkit"
 *
 * const reviews = Rbac.rule({ group: "authentication.k8s.io", resource: "tokenreviews", verbs: ["create"] })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const rule = (options: AllowOptions & {
  readonly group: string
  readonly resource: string
  readonly verbs: ReadonlyArray<Verb>
}): ResourcePermission => ({
  _tag: "ResourcePermission",
  group: options.group,
  resource: options.resource,
  subresource: options.subresource,
  verbs: [...options.verbs],
  namespace: options.namespace,
  names: options.names === undefined ? undefined : [...options.names],
  reason: options.reason
})

/**
 * Calls on URLs outside the API, e.g. `get` on `/metrics` for a Prometheus scraper.
 *
 * @example
 * ```ts
 * import { Rbac } from "operatorkit"
 *
 * const scrape = Rbac.nonResource(["/metrics"], ["get"], "Prometheus scrapes the operator's metrics")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const nonResource = (
  urls: ReadonlyArray<string>,
  verbs: ReadonlyArray<NonResourceVerb>,
  reason?: string
): NonResourcePermission => ({ _tag: "NonResourcePermission", urls: [...urls], verbs: [...verbs], reason })

/**
 * Gives a reason to the permissions that have none (a Resource's name, a component's).
 *
 * @example
 * ```ts
 * import { Kind, Rbac } from "operatorkit"
 *
 * const [p] = Rbac.withReason([Rbac.allow(Kind.Secret, ["get"])], "resource credentials")
 * p!.reason // => "resource credentials"
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withReason = (permissions: ReadonlyArray<Permission>, reason: string): ReadonlyArray<Permission> =>
  permissions.map((p) => (p.reason === undefined ? { ...p, reason } : p))

// ---------------------------------------------------------------------------------------------
// A declaration: what one ServiceAccount needs

/**
 * @since 0.1.0
 * @category type IDs
 */
export const TypeId: TypeId = "~operatorkit/Rbac/Declaration"

/**
 * @since 0.1.0
 * @category type IDs
 */
export type TypeId = "~operatorkit/Rbac/Declaration"

/**
 * Everything an operator's ServiceAccount needs; `npx operatorkit rbac <module>` prints the roles
 * and bindings of every declaration a module exports.
 *
 * @since 0.1.0
 * @category models
 */
export interface Declaration extends Pipeable {
  readonly [TypeId]: TypeId
  /** The ServiceAccount's name; also the name of its roles and bindings. */
  readonly name: string
  /** Where the operator runs: the ServiceAccount's namespace (and {@link operatorNamespace}'s). */
  readonly namespace: string
  readonly permissions: ReadonlyArray<Permission>
}

const DeclarationProto = {
  [TypeId]: TypeId,
  pipe() {
    return pipeArguments(this, arguments)
  }
}

/**
 * Declares what a ServiceAccount needs: the permissions of each part of the operator (nested lists
 * are flattened).
 *
 * @example
 * ```ts
 * import { Kind, Rbac } from "operatorkit"
 *
 * export const rbac = Rbac.make({
 *   name: "cm-operator",
 *   namespace: "operators",
 *   permissions: [
 *     [Rbac.allow(Kind.ConfigMap, ["list", "watch", "get", "patch"])],
 *     Rbac.allow(Kind.Lease, ["get", "update"], { namespace: Rbac.operatorNamespace, names: ["cm-operator"] })
 *   ]
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly name: string
  readonly namespace: string
  readonly permissions: ReadonlyArray<Permission | ReadonlyArray<Permission>>
}): Declaration =>
  Object.assign(Object.create(DeclarationProto), {
    name: options.name,
    namespace: options.namespace,
    permissions: options.permissions.flat()
  })

/**
 * Whether a value is a {@link Declaration}.
 *
 * @example
 * ```ts
 * import { Rbac } from "operatorkit"
 *
 * Rbac.isDeclaration(Rbac.make({ name: "a", namespace: "b", permissions: [] })) // => true
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isDeclaration = (u: unknown): u is Declaration =>
  typeof u === "object" && u !== null && (u as { [TypeId]?: unknown })[TypeId] === TypeId

/**
 * A declaration without some of its permissions (e.g. to show what a missing rule does).
 *
 * @example
 * ```ts
 * import { Kind, Rbac } from "operatorkit"
 *
 * declare const rbac: Rbac.Declaration
 * const noStatus = Rbac.without(rbac, (p) => p._tag === "ResourcePermission" && p.subresource === "status")
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const without = (declaration: Declaration, drop: (permission: Permission) => boolean): Declaration =>
  make({ name: declaration.name, namespace: declaration.namespace, permissions: declaration.permissions.filter((p) => !drop(p)) })

// ---------------------------------------------------------------------------------------------
// Requests: what a call asks of RBAC

/**
 * What one API call asks of RBAC: the attributes the API server's authorizer sees.
 *
 * @since 0.1.0
 * @category models
 */
export type Request =
  | {
    readonly _tag: "ResourceRequest"
    readonly verb: Verb
    readonly group: string
    readonly resource: string
    readonly subresource?: string | undefined
    /** Undefined for a cluster-scoped resource or a call across every namespace. */
    readonly namespace?: string | undefined
    /** Undefined for calls on a collection (create, list, watch, deletecollection). */
    readonly name?: string | undefined
  }
  | { readonly _tag: "NonResourceRequest"; readonly verb: NonResourceVerb; readonly url: string }

/** Verbs RBAC cannot restrict by name: the request carries none. */
const collectionVerbs: ReadonlySet<Verb> = new Set<Verb>(["create", "list", "watch", "deletecollection"])

/**
 * Whether one permission allows a request. {@link operatorNamespace} stands for `namespace`.
 *
 * @example
 * ```ts
 * import { Kind, Rbac } from "operatorkit"
 *
 * const p = Rbac.allow(Kind.ConfigMap, ["get"], { namespace: "a" })
 * Rbac.permits(p, { _tag: "ResourceRequest", verb: "get", group: "", resource: "configmaps", namespace: "a", name: "x" }, "ops") // => true
 * Rbac.permits(p, { _tag: "ResourceRequest", verb: "get", group: "", resource: "configmaps", namespace: "b", name: "x" }, "ops") // => false
 * ```
 *
 * @since 0.1.0
 * @category matching
 */
export const permits = (permission: Permission, request: Request, namespace: string): boolean => {
  if (permission._tag === "NonResourcePermission") {
    return request._tag === "NonResourceRequest" && permission.verbs.includes(request.verb) &&
      permission.urls.some((u) => u === request.url || (u.endsWith("*") && request.url.startsWith(u.slice(0, -1))))
  }
  if (request._tag !== "ResourceRequest") return false
  if (permission.group !== request.group || permission.resource !== request.resource) return false
  if ((permission.subresource ?? "") !== (request.subresource ?? "")) return false
  if (!permission.verbs.includes(request.verb)) return false
  const scope = resolve(permission.namespace, namespace)
  if (scope !== undefined && scope !== request.namespace) return false
  // collection verbs are granted without names (as rendered: RBAC cannot restrict them by name)
  if (permission.names !== undefined && !collectionVerbs.has(request.verb)) {
    if (request.name === undefined || !permission.names.includes(request.name)) return false
  }
  return true
}

/**
 * Whether any of the permissions allows a request.
 *
 * @example
 * ```ts
 * import { Kind, Rbac } from "operatorkit"
 *
 * const rbac = Rbac.make({ name: "op", namespace: "ops", permissions: [Rbac.allow(Kind.Namespace, ["list", "watch"])] })
 * Rbac.allows(rbac, { _tag: "ResourceRequest", verb: "watch", group: "", resource: "namespaces" }) // => true
 * ```
 *
 * @since 0.1.0
 * @category matching
 */
export const allows = (declaration: Declaration, request: Request): boolean =>
  declaration.permissions.some((p) => permits(p, request, declaration.namespace))

/**
 * A request as text: `patch tenants.example.com "a"` (`in namespace "x"` / `at cluster scope`).
 *
 * @example
 * ```ts
 * import { Rbac } from "operatorkit"
 *
 * Rbac.describeRequest({ _tag: "ResourceRequest", verb: "update", group: "example.com", resource: "tenants", subresource: "status", name: "a" })
 * // => 'update tenants/status.example.com "a" at cluster scope'
 * ```
 *
 * @since 0.1.0
 * @category matching
 */
export const describeRequest = (request: Request): string => {
  if (request._tag === "NonResourceRequest") return `${request.verb} ${request.url}`
  const resource = `${request.resource}${request.subresource !== undefined ? `/${request.subresource}` : ""}${request.group !== "" ? `.${request.group}` : ""}`
  const name = request.name !== undefined ? ` "${request.name}"` : ""
  return `${request.verb} ${resource}${name} ${request.namespace !== undefined ? `in namespace "${request.namespace}"` : "at cluster scope"}`
}

/**
 * The least rule that allows a request, as a permission (to add to a declaration).
 *
 * @example
 * ```ts
 * import { Rbac } from "operatorkit"
 *
 * const p = Rbac.ruleFor({ _tag: "ResourceRequest", verb: "get", group: "", resource: "secrets", namespace: "a", name: "s" })
 * // => { _tag: "ResourcePermission", group: "", resource: "secrets", verbs: ["get"], namespace: "a", names: ["s"], … }
 * ```
 *
 * @since 0.1.0
 * @category matching
 */
export const ruleFor = (request: Request): Permission =>
  request._tag === "NonResourceRequest"
    ? nonResource([request.url], [request.verb])
    : rule({
      group: request.group,
      resource: request.resource,
      subresource: request.subresource,
      verbs: [request.verb],
      namespace: request.namespace,
      names: request.name !== undefined && !collectionVerbs.has(request.verb) ? [request.name] : undefined
    })

/**
 * A permission as one line of RBAC YAML (a rule), with where it applies.
 *
 * @example
 * ```ts
 * import { Kind, Rbac } from "operatorkit"
 *
 * Rbac.describePermission(Rbac.allow(Kind.ConfigMap, ["get"], { namespace: "a" }))
 * // => '{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] } in a Role in namespace "a"'
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const describePermission = (permission: Permission, namespace?: string): string => {
  if (permission._tag === "NonResourcePermission") {
    return `{ nonResourceURLs: ${list(permission.urls)}, verbs: ${list(permission.verbs)} } in a ClusterRole`
  }
  const resource = permission.resource + (permission.subresource !== undefined ? `/${permission.subresource}` : "")
  const names = permission.names !== undefined ? `, resourceNames: ${list(permission.names)}` : ""
  const scope = permission.namespace === undefined
    ? "in a ClusterRole"
    : typeof permission.namespace === "string"
    ? `in a Role in namespace "${permission.namespace}"`
    : namespace !== undefined
    ? `in a Role in namespace "${namespace}" (the operator's)`
    : "in a Role in the operator's namespace"
  return `{ apiGroups: ${list([permission.group])}, resources: ${list([resource])}${names}, verbs: ${list(permission.verbs)} } ${scope}`
}

/** Namespace subresources: `/api/v1/namespaces/<name>/status` is the namespace's, not a resource "status". */
const namespaceSubresources: ReadonlySet<string> = new Set(["status", "finalize"])

/**
 * What an HTTP request to the API server asks of RBAC, derived as the API server derives it: the
 * verb from the method (a GET of a collection is `list`, or `watch` with `watch=true`), the
 * group, resource, subresource, namespace and name from the path. A server-side apply (content
 * type `application/apply-patch+yaml`) asks for `patch`, and for `create` when the object does not
 * exist yet: both are returned. Writing a (Cluster)RoleBinding with the request's `body` also asks
 * for `bind` on the role it refers to (the API server's escalation check accepts that, or holding
 * every right of the role, which only a real server can judge). A path outside `/api` and `/apis`
 * is a non-resource URL.
 *
 * @example
 * ```ts
 * import { Rbac } from "operatorkit"
 *
 * Rbac.requestsOf({ method: "GET", path: "/apis/apps/v1/namespaces/a/deployments?watch=true" })
 * // => [{ _tag: "ResourceRequest", verb: "watch", group: "apps", resource: "deployments", namespace: "a", … }]
 * Rbac.requestsOf({ method: "PUT", path: "/apis/example.com/v1/tenants/t/status" })[0]
 * // => { _tag: "ResourceRequest", verb: "update", group: "example.com", resource: "tenants", subresource: "status", name: "t", … }
 * ```
 *
 * @since 0.1.0
 * @category matching
 */
export const requestsOf = (request: {
  readonly method: string
  readonly path: string
  readonly contentType?: string | undefined
  readonly body?: unknown
}): ReadonlyArray<Request> => {
  const method = request.method.toUpperCase()
  const [pathPart, query = ""] = request.path.split("?", 2) as [string, string?]
  const parts = pathPart.split("/").filter((p) => p !== "").map(decodeURIComponent)
  const nonResource = (): ReadonlyArray<Request> => [{
    _tag: "NonResourceRequest",
    verb: method === "HEAD" ? "get" : method.toLowerCase() as NonResourceVerb,
    url: pathPart
  }]
  let rest = parts[0] === "api" ? parts.slice(2) : parts[0] === "apis" ? parts.slice(3) : undefined
  const group = parts[0] === "apis" ? parts[1] ?? "" : ""
  if (rest === undefined || rest.length === 0) return nonResource()
  let watch = new URLSearchParams(query).get("watch") === "true" || new URLSearchParams(query).get("watch") === "1"
  if (rest[0] === "watch") {
    watch = true
    rest = rest.slice(1)
  }
  let namespace: string | undefined
  if (rest[0] === "namespaces" && rest.length > 1) {
    // a namespace's own path (and its status or finalize) stays on the resource "namespaces"
    if (rest.length > 2 && !namespaceSubresources.has(rest[2]!)) {
      namespace = rest[1]
      rest = rest.slice(2)
    }
  }
  const [resource, name, ...sub] = rest as [string, string?, ...Array<string>]
  const subresource = sub.length > 0 ? sub.join("/") : undefined
  const verb: Verb | undefined = method === "GET" || method === "HEAD"
    ? name !== undefined ? (watch ? "watch" : "get") : watch ? "watch" : "list"
    : method === "POST"
    ? "create"
    : method === "PUT"
    ? "update"
    : method === "PATCH"
    ? "patch"
    : method === "DELETE"
    ? name !== undefined ? "delete" : "deletecollection"
    : undefined
  if (verb === undefined) return nonResource()
  const base = { _tag: "ResourceRequest" as const, group, resource, subresource, namespace }
  const out: Array<Request> = [{ ...base, verb, name }]
  // a server-side apply creates the object when it is missing (not so for a subresource)
  if (verb === "patch" && request.contentType === "application/apply-patch+yaml" && subresource === undefined) {
    out.push({ ...base, verb: "create", name: undefined })
  }
  const roleRef = (request.body as { readonly roleRef?: { readonly kind?: unknown; readonly name?: unknown } } | undefined)?.roleRef
  if (
    group === "rbac.authorization.k8s.io" && (resource === "rolebindings" || resource === "clusterrolebindings") &&
    subresource === undefined && (verb === "create" || verb === "update" || verb === "patch") &&
    typeof roleRef?.name === "string" && (roleRef.kind === "ClusterRole" || roleRef.kind === "Role")
  ) {
    out.push({
      _tag: "ResourceRequest",
      verb: "bind",
      group,
      resource: roleRef.kind === "ClusterRole" ? "clusterroles" : "roles",
      subresource: undefined,
      namespace,
      name: roleRef.name
    })
  }
  return out
}

const list = (items: ReadonlyArray<string>) => `[${items.map((i) => JSON.stringify(i)).join(", ")}]`

const resolve = (namespace: string | OperatorNamespace | undefined, operator: string): string | undefined =>
  namespace === undefined ? undefined : typeof namespace === "string" ? namespace : operator

// ---------------------------------------------------------------------------------------------
// Roles: the least rules that grant a declaration

/**
 * An RBAC policy rule, with the reasons of the permissions it grants.
 *
 * @since 0.1.0
 * @category models
 */
export interface PolicyRule {
  readonly apiGroups?: ReadonlyArray<string>
  readonly resources?: ReadonlyArray<string>
  readonly resourceNames?: ReadonlyArray<string>
  readonly nonResourceURLs?: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<string>
}

/**
 * A rule and why it is there.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExplainedRule {
  readonly rule: PolicyRule
  readonly reasons: ReadonlyArray<string>
}

/**
 * The rules of a declaration: those of its ClusterRole, and those of a Role per namespace.
 *
 * @since 0.1.0
 * @category models
 */
export interface Rules {
  readonly cluster: ReadonlyArray<ExplainedRule>
  readonly namespaces: ReadonlyArray<{ readonly namespace: string; readonly rules: ReadonlyArray<ExplainedRule> }>
}

const verbOrder: ReadonlyArray<string> = [
  "get",
  "list",
  "watch",
  "create",
  "update",
  "patch",
  "delete",
  "deletecollection",
  "bind",
  "escalate",
  "impersonate",
  "use",
  "approve",
  "sign",
  "post",
  "put",
  "head"
]
const byVerb = (a: string, b: string) => verbOrder.indexOf(a) - verbOrder.indexOf(b) || a.localeCompare(b)

/** One (group, resource, names) in one scope with the verbs granted on it. */
interface Grant {
  readonly group: string
  readonly resource: string
  readonly names: ReadonlyArray<string> | undefined
  readonly verbs: Set<string>
  readonly reasons: Set<string>
}

const addGrant = (grants: Map<string, Grant>, g: Omit<Grant, "verbs" | "reasons">, verbs: Iterable<string>, reason: string | undefined) => {
  const names = g.names === undefined ? undefined : [...new Set(g.names)].sort()
  const key = JSON.stringify([g.group, g.resource, names ?? null])
  const grant = grants.get(key) ?? { ...g, names, verbs: new Set(), reasons: new Set() }
  for (const v of verbs) grant.verbs.add(v)
  if (reason !== undefined) grant.reasons.add(reason)
  grants.set(key, grant)
}

/**
 * The least rules that grant every permission of a declaration: a ClusterRole's for the
 * permissions without a namespace, a Role's per namespace; covered permissions left out, the rest
 * merged.
 *
 * @example
 * ```ts
 * import { Kind, Rbac } from "operatorkit"
 *
 * const rbac = Rbac.make({
 *   name: "op",
 *   namespace: "ops",
 *   permissions: [
 *     Rbac.allow(Kind.ConfigMap, ["list", "watch"]),
 *     Rbac.allow(Kind.Secret, ["list", "watch"]),
 *     Rbac.allow(Kind.ConfigMap, ["list"], { namespace: "a" }) // covered by the ClusterRole
 *   ]
 * })
 * Rbac.rules(rbac).cluster.map((r) => r.rule)
 * // => [{ apiGroups: [""], resources: ["configmaps", "secrets"], verbs: ["list", "watch"] }]
 * Rbac.rules(rbac).namespaces // => []
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const rules = (declaration: Declaration): Rules => {
  const cluster = new Map<string, Grant>()
  const namespaced = new Map<string, Map<string, Grant>>()
  const urls = new Map<string, { verbs: Set<string>; reasons: Set<string> }>()
  for (const p of declaration.permissions) {
    if (p._tag === "NonResourcePermission") {
      for (const url of p.urls) {
        const entry = urls.get(url) ?? { verbs: new Set(), reasons: new Set() }
        for (const v of p.verbs) entry.verbs.add(v)
        if (p.reason !== undefined) entry.reasons.add(p.reason)
        urls.set(url, entry)
      }
      continue
    }
    const resource = p.resource + (p.subresource !== undefined ? `/${p.subresource}` : "")
    const scope = resolve(p.namespace, declaration.namespace)
    const grants = scope === undefined ? cluster : namespaced.get(scope) ?? new Map<string, Grant>()
    if (scope !== undefined) namespaced.set(scope, grants)
    // RBAC cannot restrict collection verbs by name: they go to the unnamed grant
    const named = p.names !== undefined ? p.verbs.filter((v) => !collectionVerbs.has(v)) : []
    const unnamed = p.names !== undefined ? p.verbs.filter((v) => collectionVerbs.has(v)) : p.verbs
    if (named.length > 0) addGrant(grants, { group: p.group, resource, names: p.names }, named, p.reason)
    if (unnamed.length > 0) addGrant(grants, { group: p.group, resource, names: undefined }, unnamed, p.reason)
  }

  // leave out what a wider grant covers: the same verb cluster-wide, or without names (or with more)
  const covers = (other: Grant, grant: Grant, sameScope: boolean) =>
    other !== grant && other.group === grant.group && other.resource === grant.resource &&
    (other.names === undefined ||
      (grant.names !== undefined && grant.names.every((n) => other.names!.includes(n)) &&
        (!sameScope || other.names.length > grant.names.length)))
  const prune = (grants: Map<string, Grant>, wider: Map<string, Grant> | undefined) => {
    for (const grant of grants.values()) {
      for (const verb of [...grant.verbs]) {
        const covered = [...grants.values()].some((other) => other.verbs.has(verb) && covers(other, grant, true)) ||
          (wider !== undefined && [...wider.values()].some((other) => other.verbs.has(verb) && covers(other, grant, false)))
        if (covered) grant.verbs.delete(verb)
      }
    }
  }
  prune(cluster, undefined)
  for (const grants of namespaced.values()) prune(grants, cluster)

  const toRules = (grants: Map<string, Grant>): Array<ExplainedRule> => {
    // one rule per (group, names, verbs), listing its resources
    const merged = new Map<string, { group: string; names: ReadonlyArray<string> | undefined; verbs: Array<string>; resources: Set<string>; reasons: Set<string> }>()
    for (const grant of grants.values()) {
      if (grant.verbs.size === 0) continue
      const verbs = [...grant.verbs].sort(byVerb)
      const key = JSON.stringify([grant.group, grant.names ?? null, verbs])
      const entry = merged.get(key) ?? { group: grant.group, names: grant.names, verbs, resources: new Set(), reasons: new Set() }
      entry.resources.add(grant.resource)
      for (const r of grant.reasons) entry.reasons.add(r)
      merged.set(key, entry)
    }
    return [...merged.values()]
      .map((e) => ({
        rule: {
          apiGroups: [e.group],
          resources: [...e.resources].sort(),
          ...(e.names !== undefined ? { resourceNames: e.names } : {}),
          verbs: e.verbs
        },
        reasons: [...e.reasons]
      }))
      .sort((a, b) =>
        a.rule.apiGroups[0]!.localeCompare(b.rule.apiGroups[0]!) ||
        a.rule.resources[0]!.localeCompare(b.rule.resources[0]!) ||
        (a.rule.resourceNames === undefined ? 0 : 1) - (b.rule.resourceNames === undefined ? 0 : 1)
      )
  }

  const nonResourceRules: Array<ExplainedRule> = []
  const byVerbs = new Map<string, { urls: Array<string>; verbs: Array<string>; reasons: Set<string> }>()
  for (const [url, entry] of [...urls].sort(([a], [b]) => a.localeCompare(b))) {
    const verbs = [...entry.verbs].sort(byVerb)
    const key = verbs.join(",")
    const group = byVerbs.get(key) ?? { urls: [], verbs, reasons: new Set() }
    group.urls.push(url)
    for (const r of entry.reasons) group.reasons.add(r)
    byVerbs.set(key, group)
  }
  for (const g of byVerbs.values()) nonResourceRules.push({ rule: { nonResourceURLs: g.urls, verbs: g.verbs }, reasons: [...g.reasons] })

  return {
    cluster: [...toRules(cluster), ...nonResourceRules],
    namespaces: [...namespaced]
      .map(([namespace, grants]) => ({ namespace, rules: toRules(grants) }))
      .filter((n) => n.rules.length > 0)
      .sort((a, b) => (a.namespace === declaration.namespace ? -1 : b.namespace === declaration.namespace ? 1 : a.namespace.localeCompare(b.namespace)))
  }
}

// ---------------------------------------------------------------------------------------------
// Manifests

/**
 * An RBAC object as `kubectl apply` takes it, with the reasons of its rules (for comments).
 *
 * @since 0.1.0
 * @category models
 */
export interface Manifest {
  readonly apiVersion: string
  readonly kind: "ServiceAccount" | "ClusterRole" | "ClusterRoleBinding" | "Role" | "RoleBinding"
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Readonly<Record<string, string>> }
  readonly [key: string]: unknown
}

/**
 * Options of {@link manifests} and {@link toYaml}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ManifestOptions {
  /** Include the ServiceAccount (default true). */
  readonly serviceAccount?: boolean | undefined
  /** Labels on every object (default `app.kubernetes.io/name: <name>`). */
  readonly labels?: Readonly<Record<string, string>> | undefined
}

const rbacApi = "rbac.authorization.k8s.io/v1"

const explained = (declaration: Declaration, options: ManifestOptions) => {
  const labels = options.labels ?? { "app.kubernetes.io/name": declaration.name }
  const subject = { kind: "ServiceAccount", name: declaration.name, namespace: declaration.namespace }
  const { cluster, namespaces } = rules(declaration)
  const out: Array<{ readonly object: Manifest; readonly reasons?: ReadonlyArray<ReadonlyArray<string>> }> = []
  if (options.serviceAccount !== false) {
    out.push({ object: { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: declaration.name, namespace: declaration.namespace, labels } } })
  }
  if (cluster.length > 0) {
    out.push({
      object: { apiVersion: rbacApi, kind: "ClusterRole", metadata: { name: declaration.name, labels }, rules: cluster.map((r) => r.rule) },
      reasons: cluster.map((r) => r.reasons)
    })
    out.push({
      object: {
        apiVersion: rbacApi,
        kind: "ClusterRoleBinding",
        metadata: { name: declaration.name, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: declaration.name },
        subjects: [subject]
      }
    })
  }
  for (const { namespace, rules: nsRules } of namespaces) {
    out.push({
      object: { apiVersion: rbacApi, kind: "Role", metadata: { name: declaration.name, namespace, labels }, rules: nsRules.map((r) => r.rule) },
      reasons: nsRules.map((r) => r.reasons)
    })
    out.push({
      object: {
        apiVersion: rbacApi,
        kind: "RoleBinding",
        metadata: { name: declaration.name, namespace, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: declaration.name },
        subjects: [subject]
      }
    })
  }
  return out
}

/**
 * The ServiceAccount, the ClusterRole and Roles with the least rules, and their bindings.
 *
 * @example
 * ```ts
 * import { Kind, Rbac } from "operatorkit"
 *
 * const rbac = Rbac.make({ name: "op", namespace: "ops", permissions: [Rbac.allow(Kind.ConfigMap, ["list", "watch"])] })
 * Rbac.manifests(rbac).map((m) => m.kind) // => ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"]
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const manifests = (declaration: Declaration, options: ManifestOptions = {}): ReadonlyArray<Manifest> =>
  explained(declaration, options).map((e) => e.object)

/**
 * The manifests as YAML documents, each rule preceded by comments saying who needs it.
 *
 * @example
 * ```ts
 * import { Kind, Rbac } from "operatorkit"
 *
 * const rbac = Rbac.make({
 *   name: "op",
 *   namespace: "ops",
 *   permissions: [Rbac.allow(Kind.ConfigMap, ["list", "watch"], { reason: "controller op: its informer" })]
 * })
 * Rbac.toYaml(rbac).includes("  # controller op: its informer\n  - apiGroups:") // => true
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const toYaml = (declaration: Declaration, options: ManifestOptions = {}): string =>
  explained(declaration, options).map(({ object, reasons }) => documentWithComments(object, reasons)).join("---\n")
