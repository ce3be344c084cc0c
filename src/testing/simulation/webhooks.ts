/**
 * The invariants of an operator's webhooks in a simulation, checked at every change of the
 * server's state:
 *
 * - `admission-enforced`: every stored object of a kind a validating admission covers decodes
 *   with that admission's Schema, in its version: the part of the validator that depends on the
 *   object alone, so an object it refuses never reaches the store (a check that reads the cluster,
 *   such as uniqueness, is not atomic with the write in Kubernetes either, and is not held here);
 * - `conversion-round-trip`: every stored object of a CRD the webhooks convert converts to each
 *   other version and back to the same object, and reads the same in that version afterwards
 *   (nothing lost, nothing added). The conversion's own annotations (what a version could not
 *   hold) are left out of the first comparison: one the object's later changes made stale is
 *   ignored by the converter, and dropped by a round trip.
 * @internal
 */
import * as Result from "effect/Result"
import * as Conversion from "../../Conversion.ts"
import { decodeObject, isDecodeError } from "../../internal/codec.ts"
import * as Store from "../../Store.ts"
import type * as Webhooks from "../../Webhooks.ts"
import { NAMESPACES, objectKey, present, type Resource, resourceKey } from "../fake/kinds.ts"
import type { Store as FakeStore } from "../fake/store.ts"
import { selects } from "../fake/webhooks.ts"
import { isObject, type JsonObject } from "../fake/status.ts"
import type { Violation } from "./checks.ts"

export const WebhookInvariants = {
  admission: "admission-enforced",
  conversion: "conversion-round-trip"
} as const

const describe = (resource: Resource, object: JsonObject) => {
  const meta = isObject(object["metadata"]) ? object["metadata"] : {}
  return `${resource.kind} ${Store.key({ name: String(meta["name"] ?? "?"), namespace: typeof meta["namespace"] === "string" ? meta["namespace"] : undefined })}`
}

/** The first path where two JSON values differ, with both values; undefined when equal. */
export const difference = (a: unknown, b: unknown, path = ""): string | undefined => {
  if (a === b) return undefined
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = difference(a[i], b[i], `${path}[${i}]`)
      if (d !== undefined) return d
    }
    return undefined
  }
  if (isObject(a) && isObject(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = difference(a[key], b[key], path === "" ? key : `${path}.${key}`)
      if (d !== undefined) return d
    }
    return undefined
  }
  return `${path === "" ? "the object" : path}: ${JSON.stringify(a) ?? "absent"} became ${JSON.stringify(b) ?? "absent"}`
}

/** The object without the annotations the conversion keeps what a version cannot hold in. */
const withoutAnnotations = (conversion: Conversion.Conversion, object: { readonly [key: string]: unknown }): unknown => {
  const meta = isObject(object["metadata"]) ? object["metadata"] : undefined
  if (meta === undefined || !isObject(meta["annotations"])) return object
  const ours = new Set(conversion.definition.versions.map(conversion.annotation))
  const annotations = Object.fromEntries(Object.entries(meta["annotations"]).filter(([k]) => !ours.has(k)))
  const { annotations: _, ...rest } = meta
  return { ...object, metadata: Object.keys(annotations).length > 0 ? { ...rest, annotations } : rest }
}

const labelsOf = (object: JsonObject | undefined): Readonly<Record<string, string>> => {
  const meta = object !== undefined && isObject(object["metadata"]) ? object["metadata"] : {}
  return isObject(meta["labels"]) ? meta["labels"] as Record<string, string> : {}
}

/**
 * Checks each change of an object against the definition's admissions (those called on both
 * creates and updates, for the objects their selectors match) and conversions.
 */
export const webhookChecks = (definition: Webhooks.Definition<unknown>, store: FakeStore) =>
(resource: Resource, object: JsonObject | undefined, at: number): Violation | undefined => {
  if (object === undefined) return undefined
  const key = resourceKey(resource.group, resource.plural)
  for (const admission of definition.admissions) {
    if (!admission.validating || resourceKey(admission.kind.group, admission.kind.plural) !== key) continue
    if (!admission.call.operations.includes("CREATE") || !admission.call.operations.includes("UPDATE")) continue
    if (!selects(admission.call.objectSelector, labelsOf(object))) continue
    const namespace = isObject(object["metadata"]) ? object["metadata"]["namespace"] : undefined
    if (resource.namespaced && typeof namespace === "string" && !selects(admission.call.namespaceSelector, labelsOf(store.get(NAMESPACES, objectKey(undefined, namespace))))) continue
    const decoded = decodeObject(admission.kind, present(resource, admission.kind.version, object))
    if (isDecodeError(decoded)) {
      return {
        invariant: WebhookInvariants.admission,
        at,
        message: `${describe(resource, object)} reached the store though its admission (${admission.kind.kind} ${admission.kind.version}) refuses it: ${decoded.message}`
      }
    }
  }
  for (const conversion of definition.conversions) {
    if (resource.crd !== conversion.definition.name) continue
    const storage = conversion.definition.storageVersion
    const stored = present(resource, storage, object)
    for (const version of conversion.definition.versions) {
      if (version === storage) continue
      const what = `${describe(resource, object)}: ${storage} → ${version} → ${storage}`
      const there = Conversion.convert(conversion, stored, version)
      if (Result.isFailure(there)) return { invariant: WebhookInvariants.conversion, at, message: `${what} failed: ${there.failure.message}` }
      const back = Conversion.convert(conversion, there.success, storage)
      if (Result.isFailure(back)) return { invariant: WebhookInvariants.conversion, at, message: `${what} failed: ${back.failure.message}` }
      const d = difference(withoutAnnotations(conversion, stored), withoutAnnotations(conversion, back.success))
      if (d !== undefined) return { invariant: WebhookInvariants.conversion, at, message: `${what} does not give the object back: ${d}` }
      const again = Conversion.convert(conversion, back.success, version)
      if (Result.isFailure(again)) return { invariant: WebhookInvariants.conversion, at, message: `${what} → ${version} failed: ${again.failure.message}` }
      const seen = difference(there.success, again.success)
      if (seen !== undefined) return { invariant: WebhookInvariants.conversion, at, message: `${what} reads differently in ${version} afterwards: ${seen}` }
    }
  }
  return undefined
}
