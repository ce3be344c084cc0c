/**
 * The resources of the in-memory API server: the built-in kinds with the behaviour kube-apiserver
 * 1.20 has for each (generation, name rules, field selectors, what a delete answers), the kinds
 * CustomResourceDefinitions define, name validation, and the defaults filled in on create.
 * @internal
 */
import type * as Kind from "../../Kind.ts"
import * as Kinds from "../../Kind.ts"
import * as S from "./status.ts"
import { type Answer, clone, deepEqual, isObject, type JsonObject, type ResourceName } from "./status.ts"

/** How `metadata.generation` moves for a resource. */
export type GenerationRule = "none" | "spec" | "specAndAnnotations" | "allButMetadataAndStatus"

/** Which rule validates names. */
export type NameRule = "subdomain" | "label" | "dns1035" | "segment"

export interface Resource extends ResourceName {
  readonly singular: string
  readonly listKind: string
  readonly namespaced: boolean
  /** Served versions; the first is the storage version. */
  readonly versions: ReadonlyArray<string>
  readonly status: boolean
  /** Compiled into kube-apiserver: strategic merge allowed, list items without apiVersion/kind. */
  readonly builtin: boolean
  readonly generation: GenerationRule
  readonly fieldSelectors: ReadonlyArray<string>
  readonly returnDeletedObject: boolean
  readonly unconditionalUpdate: boolean
  readonly names: NameRule
  /** The CustomResourceDefinition that defines it. */
  readonly crd?: string
}

export const resourceKey = (group: string, plural: string) => `${group}/${plural}`

export const objectKey = (namespace: string | undefined, name: string) =>
  namespace !== undefined && namespace !== "" ? `${namespace}/${name}` : name

const baseFields = ["metadata.name", "metadata.namespace"]

const builtinOverrides: Readonly<Record<string, Partial<Resource>>> = {
  "/namespaces": { names: "label", fieldSelectors: [...baseFields, "status.phase"] },
  "/services": { names: "dns1035" },
  "/pods": {
    returnDeletedObject: true,
    fieldSelectors: [
      ...baseFields,
      "spec.nodeName",
      "spec.restartPolicy",
      "spec.schedulerName",
      "spec.serviceAccountName",
      "status.phase",
      "status.podIP",
      "status.nominatedNodeName"
    ]
  },
  "/serviceaccounts": { returnDeletedObject: true },
  "/secrets": { fieldSelectors: [...baseFields, "type"] },
  "/events": {
    fieldSelectors: [
      ...baseFields,
      "involvedObject.kind",
      "involvedObject.namespace",
      "involvedObject.name",
      "involvedObject.uid",
      "involvedObject.apiVersion",
      "involvedObject.resourceVersion",
      "involvedObject.fieldPath",
      "reason",
      "reportingComponent",
      "source",
      "type"
    ]
  },
  "apps/deployments": { generation: "specAndAnnotations" },
  "apiextensions.k8s.io/customresourcedefinitions": { generation: "spec", groupKindInErrors: false, unconditionalUpdate: false },
  "rbac.authorization.k8s.io/roles": { names: "segment" },
  "rbac.authorization.k8s.io/clusterroles": { names: "segment" },
  "rbac.authorization.k8s.io/rolebindings": { names: "segment" },
  "rbac.authorization.k8s.io/clusterrolebindings": { names: "segment" }
}

const specGenerationGroups = new Set(["apps", "batch", "networking.k8s.io", "policy"])

/** The resource a Kind descriptor describes, with the behaviour kube-apiserver 1.20 has for it. */
export const resourceOf = (kind: Kind.Any): Resource => {
  const key = resourceKey(kind.group, kind.plural)
  const base: Resource = {
    group: kind.group,
    plural: kind.plural,
    kind: kind.kind,
    singular: kind.singular,
    listKind: kind.listKind,
    namespaced: kind.namespaced,
    versions: [kind.version],
    status: kind.subresources.status,
    builtin: kind.builtin,
    groupKindInErrors: kind.builtin,
    generation: kind.builtin ? (specGenerationGroups.has(kind.group) ? "spec" : "none") : "allButMetadataAndStatus",
    fieldSelectors: baseFields,
    returnDeletedObject: false,
    unconditionalUpdate: kind.builtin,
    names: "subdomain"
  }
  return kind.builtin ? { ...base, ...builtinOverrides[key] } : base
}

export const builtinKinds: ReadonlyArray<Kind.Any> = [
  Kinds.Namespace,
  Kinds.ConfigMap,
  Kinds.Secret,
  Kinds.ServiceAccount,
  Kinds.Service,
  Kinds.Endpoints,
  Kinds.Pod,
  Kinds.PersistentVolumeClaim,
  Kinds.PersistentVolume,
  Kinds.Node,
  Kinds.Event,
  Kinds.ResourceQuota,
  Kinds.Deployment,
  Kinds.StatefulSet,
  Kinds.DaemonSet,
  Kinds.ReplicaSet,
  Kinds.Lease,
  Kinds.Role,
  Kinds.ClusterRole,
  Kinds.RoleBinding,
  Kinds.ClusterRoleBinding,
  Kinds.CustomResourceDefinition
]

export const NAMESPACES = resourceKey("", "namespaces")
export const CRDS = resourceKey("apiextensions.k8s.io", "customresourcedefinitions")
export const CRD_CLEANUP = "customresourcecleanup.apiextensions.k8s.io"

export const metadataOf = (object: unknown): JsonObject => {
  const m = isObject(object) ? object["metadata"] : undefined
  return isObject(m) ? m : {}
}

export const str = (u: unknown) => (typeof u === "string" ? u : undefined)

let lastStamp = { millis: NaN, text: "" }

/** RFC 3339 to the second; the last one is kept (writes in one instant, under a TestClock many, share it). */
export const timestamp = (millis: number): string => {
  if (millis !== lastStamp.millis) lastStamp = { millis, text: new Date(millis).toISOString().replace(/\.\d{3}Z$/, "Z") }
  return lastStamp.text
}

/** The resource a CustomResourceDefinition's spec defines (served at its storage version first). */
export const resourceOfCrd = (name: string, spec: JsonObject): Resource | undefined => {
  const names = isObject(spec["names"]) ? spec["names"] : {}
  const kind = str(names["kind"]) ?? ""
  const versions = (Array.isArray(spec["versions"]) ? spec["versions"] : []).filter(isObject)
  const storage = versions.find((v) => v["storage"] === true)
  if (storage === undefined) return undefined
  const storageName = String(storage["name"])
  const served = versions.filter((v) => v["served"] === true).map((v) => String(v["name"]))
  const subresources = isObject(storage["subresources"]) ? storage["subresources"] : {}
  return {
    group: str(spec["group"]) ?? "",
    plural: str(names["plural"]) ?? "",
    kind,
    singular: str(names["singular"]) ?? kind.toLowerCase(),
    listKind: str(names["listKind"]) ?? `${kind}List`,
    namespaced: spec["scope"] !== "Cluster",
    versions: [storageName, ...served.filter((v) => v !== storageName)],
    status: subresources["status"] !== undefined,
    builtin: false,
    groupKindInErrors: false,
    generation: "allButMetadataAndStatus",
    fieldSelectors: baseFields,
    returnDeletedObject: false,
    unconditionalUpdate: false,
    names: "subdomain",
    crd: name
  }
}

/** An object as served at `version` of its resource. */
export const present = (resource: Resource, version: string, object: JsonObject): JsonObject => {
  const { apiVersion: _a, kind: _k, ...rest } = clone(object)
  return {
    apiVersion: resource.group === "" ? version : `${resource.group}/${version}`,
    kind: resource.kind,
    ...rest
  }
}

// ---------------------------------------------------------------------------------------------
// names

const subdomainRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const labelRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const dns1035Re = /^[a-z]([-a-z0-9]*[a-z0-9])?$/

const nameProblems = (resource: Resource, name: string): Array<string> => {
  switch (resource.names) {
    case "segment":
      return name === "." ? ["may not be '.'"] : name === ".." ? ["may not be '..'"] : [
        ...(name.includes("/") ? ["may not contain '/'"] : []),
        ...(name.includes("%") ? ["may not contain '%'"] : [])
      ]
    case "label":
      return [
        ...(name.length > 63 ? ["must be no more than 63 characters"] : []),
        ...(labelRe.test(name) ? [] : [
          "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        ])
      ]
    case "dns1035":
      return [
        ...(name.length > 63 ? ["must be no more than 63 characters"] : []),
        ...(dns1035Re.test(name) ? [] : [
          "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
        ])
      ]
    case "subdomain":
      return [
        ...(name.length > 253 ? ["must be no more than 253 characters"] : []),
        ...(subdomainRe.test(name) ? [] : [
          "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        ])
      ]
  }
}

export const validateNames = (resource: Resource, name: string, generateName: string | undefined): Array<S.Cause> => {
  const causes: Array<S.Cause> = []
  if (generateName !== undefined && generateName !== "") {
    // a prefix may end in "-": kube-apiserver masks it before validating
    const masked = generateName.endsWith("-") ? `${generateName.slice(0, -1)}a` : generateName
    for (const p of nameProblems(resource, masked)) causes.push(S.fieldInvalid("metadata.generateName", generateName, p))
  }
  if (name === "") causes.push(S.fieldRequired("metadata.name", "name or generateName is required"))
  else for (const p of nameProblems(resource, name)) causes.push(S.fieldInvalid("metadata.name", name, p))
  return causes
}

// ---------------------------------------------------------------------------------------------
// metadata and contents (ValidateObjectMeta, ValidateConfigMap, ValidateSecret and their updates)

const SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
const qualifiedNameRe = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/
const labelValueRe = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/
const configKeyRe = /^[-._a-zA-Z0-9]+$/

/** What is wrong with a label or annotation key (IsQualifiedName). */
const qualifiedNameProblems = (key: string): Array<string> => {
  const parts = key.split("/")
  let name = key
  const out: Array<string> = []
  if (parts.length === 2) {
    const prefix = parts[0]!
    name = parts[1]!
    if (prefix.length === 0) out.push("prefix part must be non-empty")
    else {
      if (prefix.length > 253) out.push("prefix part must be no more than 253 characters")
      if (!subdomainRe.test(prefix)) out.push(`prefix part ${SUBDOMAIN_MESSAGE}`)
    }
  } else if (parts.length > 2) {
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
    ]
  }
  if (name.length === 0) out.push("name part must be non-empty")
  else if (name.length > 63) out.push("name part must be no more than 63 characters")
  if (!qualifiedNameRe.test(name)) {
    out.push(
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
    )
  }
  return out
}

const sortedEntries = (record: unknown): Array<[string, unknown]> =>
  isObject(record) ? Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : []

/** Labels and annotations (kube-apiserver walks them as Go maps, in no order; here in key order). */
export const metadataProblems = (meta: JsonObject): Array<S.Cause> => {
  const causes: Array<S.Cause> = []
  for (const [key, value] of sortedEntries(meta["labels"])) {
    for (const p of qualifiedNameProblems(key)) causes.push(S.fieldInvalid("metadata.labels", key, p))
    const v = typeof value === "string" ? value : ""
    if (v.length > 63) causes.push(S.fieldInvalid("metadata.labels", v, "must be no more than 63 characters"))
    if (!labelValueRe.test(v)) {
      causes.push(S.fieldInvalid(
        "metadata.labels",
        v,
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
      ))
    }
  }
  let size = 0
  for (const [key, value] of sortedEntries(meta["annotations"])) {
    for (const p of qualifiedNameProblems(key.toLowerCase())) causes.push(S.fieldInvalid("metadata.annotations", key, p))
    size += key.length + (typeof value === "string" ? value.length : 0)
  }
  if (size > 256 * 1024) causes.push({ reason: "FieldValueTooLong", message: "Too long: must have at most 262144 bytes", field: "metadata.annotations" })
  return causes
}

const configKeyProblems = (key: string): Array<string> => [
  ...(key.length > 253 ? ["must be no more than 253 characters"] : []),
  ...(configKeyRe.test(key) ? [] : [
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
  ]),
  ...(key === "." ? ["must not be '.'"] : key === ".." ? ["must not be '..'"] : key.startsWith("..") ? ["must not start with '..'"] : [])
]

const keyProblems = (field: string, record: unknown): Array<S.Cause> =>
  sortedEntries(record).flatMap(([key]) => configKeyProblems(key).map((p) => S.fieldInvalid(`${field}[${key}]`, key, p)))

/** The contents of ConfigMaps and Secrets: their keys. */
export const contentProblems = (resource: Resource, object: JsonObject): Array<S.Cause> => {
  const key = resourceKey(resource.group, resource.plural)
  if (key === "/configmaps") {
    const causes = [...keyProblems("data", object["data"]), ...keyProblems("binaryData", object["binaryData"])]
    const data = isObject(object["data"]) ? object["data"] : {}
    for (const [k] of sortedEntries(object["binaryData"])) {
      if (Object.hasOwn(data, k)) causes.push(S.fieldInvalid(`binaryData[${k}]`, k, "duplicate of key present in data"))
    }
    return causes
  }
  if (key === "/secrets") return keyProblems("data", object["data"])
  return []
}

const forbidden = (field: string, detail: string): S.Cause => ({ reason: "FieldValueForbidden", message: `Forbidden: ${detail}`, field })

/** What an update may not change: an immutable ConfigMap's or Secret's contents, a Secret's type. */
export const updateProblems = (resource: Resource, current: JsonObject, next: JsonObject): Array<S.Cause> => {
  const key = resourceKey(resource.group, resource.plural)
  if (key !== "/configmaps" && key !== "/secrets") return []
  const causes: Array<S.Cause> = []
  if (key === "/secrets" && next["type"] !== current["type"]) {
    causes.push(S.fieldInvalid("type", String(next["type"] ?? ""), "field is immutable"))
  }
  if (current["immutable"] === true) {
    const message = "field is immutable when `immutable` is set"
    if (next["immutable"] !== true) causes.push(forbidden("immutable", message))
    // Go compares the maps as decoded: an empty map of bytes (a Secret's data, a ConfigMap's
    // binaryData) is not the absent one, while a ConfigMap's empty data is (as 1.20.2 answers)
    const absent = (v: unknown) => v === undefined || v === null
    const same = (a: unknown, b: unknown, emptyIsAbsent: boolean) =>
      absent(a) || (emptyIsAbsent && isObject(a) && Object.keys(a).length === 0)
        ? absent(b) || (emptyIsAbsent && isObject(b) && Object.keys(b).length === 0)
        : deepEqual(a, b)
    if (!same(next["data"], current["data"], key === "/configmaps")) causes.push(forbidden("data", message))
    if (key === "/configmaps" && !same(next["binaryData"], current["binaryData"], false)) causes.push(forbidden("binaryData", message))
  }
  return causes
}

/**
 * Why a Secret's `data` cannot be decoded (Go's strict base64: padded, no stray characters), as
 * kube-apiserver words it; undefined when it can, or for any other kind.
 */
export const undecodableData = (resource: Resource, object: unknown): string | undefined => {
  if (resourceKey(resource.group, resource.plural) !== "/secrets" || !isObject(object)) return undefined
  for (const [, value] of sortedEntries(object["data"])) {
    if (typeof value !== "string") continue
    const bad = value.search(/[^A-Za-z0-9+/=]|=(?=[^=])/)
    if (bad >= 0) return `illegal base64 data at input byte ${bad}`
    if (value.length % 4 !== 0) return `illegal base64 data at input byte ${value.length - (value.length % 4)}`
  }
  return undefined
}

const emptyCollection = (v: unknown) => v === null || (Array.isArray(v) ? v.length === 0 : isObject(v) && Object.keys(v).length === 0)
const METADATA_COLLECTIONS = ["labels", "annotations", "finalizers", "ownerReferences", "managedFields"]
const CONTENT_COLLECTIONS = ["data", "binaryData", "stringData"]

/**
 * What a write keeps after kube-apiserver decoded it into its Go types and encoded it again:
 * nulls are gone, and so are empty lists and maps of the fields marked omitempty (the metadata's
 * labels, annotations, finalizers, owner references; a ConfigMap's or Secret's data).
 */
export const roundTrip = (resource: Resource, object: JsonObject): JsonObject => {
  const out: JsonObject = {}
  for (const [k, v] of Object.entries(object)) {
    if (v === null && (resource.builtin || k === "metadata")) continue
    if (resource.builtin && CONTENT_COLLECTIONS.includes(k) && emptyCollection(v)) continue
    out[k] = v
  }
  if (isObject(out["metadata"])) {
    out["metadata"] = Object.fromEntries(
      Object.entries(out["metadata"]).filter(([k, v]) => v !== null && !(METADATA_COLLECTIONS.includes(k) && emptyCollection(v)))
    )
  }
  return out
}

/**
 * What kube-apiserver decodes from a written object before validating it: for a Secret,
 * `stringData` merged into `data` and `type` defaulted. (Stored, it loses its nulls and empty
 * collections: {@link roundTrip}.)
 */
export const normalize = (resource: Resource, object: JsonObject): JsonObject => {
  if (resourceKey(resource.group, resource.plural) !== "/secrets") return object
  const { stringData, ...rest } = object
  const data = isObject(stringData)
    ? {
      ...(isObject(rest["data"]) ? rest["data"] : {}),
      ...Object.fromEntries(Object.entries(stringData).map(([k, v]) => [k, Buffer.from(String(v), "utf8").toString("base64")]))
    }
    : rest["data"]
  return { ...rest, ...(data !== undefined ? { data } : {}), type: typeof rest["type"] === "string" && rest["type"] !== "" ? rest["type"] : "Opaque" }
}

/**
 * The garbage collector's finalizers after a delete with a propagation policy: Orphan adds
 * `orphan`, Foreground `foregroundDeletion` (each dropping the other), Background drops both, no
 * policy keeps what is there. kube-apiserver only sets them; the garbage collector (not modelled)
 * would act on them.
 */
export const gcFinalizers = (finalizers: ReadonlyArray<string>, policy: string | undefined): Array<string> => {
  if (policy === undefined) return [...finalizers]
  const rest = finalizers.filter((f) => f !== "orphan" && f !== "foregroundDeletion")
  if (policy === "Orphan") return finalizers.includes("orphan") ? finalizers.filter((f) => f !== "foregroundDeletion") : [...rest, "orphan"]
  if (policy === "Foreground") {
    return finalizers.includes("foregroundDeletion") ? finalizers.filter((f) => f !== "orphan") : [...rest, "foregroundDeletion"]
  }
  return rest
}

// ---------------------------------------------------------------------------------------------
// create

/** What kube-apiserver fills in on create for the kinds whose defaults tests see. */
export const creationDefaults = (resource: Resource, object: JsonObject): JsonObject => {
  const key = resourceKey(resource.group, resource.plural)
  if (key === NAMESPACES) {
    const spec = isObject(object["spec"]) ? object["spec"] : {}
    return { ...object, spec: { ...spec, finalizers: spec["finalizers"] ?? ["kubernetes"] }, status: { phase: "Active" } }
  }
  if (key === "apps/deployments") return { ...object, status: {} }
  if (key === CRDS) {
    const spec = isObject(object["spec"]) ? object["spec"] : {}
    const names = isObject(spec["names"]) ? spec["names"] : {}
    const kind = str(names["kind"]) ?? ""
    const versions = Array.isArray(spec["versions"]) ? spec["versions"].filter(isObject) : []
    const storage = versions.find((v) => v["storage"] === true)
    return {
      ...object,
      spec: {
        ...spec,
        names: { ...names, singular: names["singular"] ?? kind.toLowerCase(), listKind: names["listKind"] ?? `${kind}List` },
        conversion: spec["conversion"] ?? { strategy: "None" }
      },
      status: {
        conditions: null,
        acceptedNames: { plural: "", kind: "" },
        storedVersions: storage !== undefined ? [storage["name"]] : []
      }
    }
  }
  return object
}

/** The part of CRD validation tests run into. */
export const crdProblem = (resource: Resource, body: JsonObject, name: string): Answer | undefined => {
  const spec = isObject(body["spec"]) ? body["spec"] : {}
  const names = isObject(spec["names"]) ? spec["names"] : {}
  const causes: Array<S.Cause> = []
  const group = str(spec["group"]) ?? ""
  const plural = str(names["plural"]) ?? ""
  if (name !== `${plural}.${group}`) causes.push(S.fieldInvalid("metadata.name", name, "must be spec.names.plural+\".\"+spec.group"))
  if (str(names["kind"]) === undefined || names["kind"] === "") causes.push(S.fieldRequired("spec.names.kind", ""))
  if (spec["scope"] !== "Namespaced" && spec["scope"] !== "Cluster") {
    causes.push({ reason: "FieldValueNotSupported", message: `Unsupported value: ${JSON.stringify(spec["scope"] ?? "")}: supported values: "Cluster", "Namespaced"`, field: "spec.scope" })
  }
  const versions = Array.isArray(spec["versions"]) ? spec["versions"].filter(isObject) : []
  if (versions.filter((v) => v["storage"] === true).length !== 1) {
    causes.push({ reason: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(versions.map((v) => v["name"]))}: must have exactly one version marked as storage version`, field: "spec.versions" })
  }
  return causes.length > 0 ? S.invalid(resource, name, causes) : undefined
}
