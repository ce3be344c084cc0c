/**
 * The child process of `operatorkit crd`, `rbac`, `webhooks` and `manifests`: imports one module and
 * reports, over IPC, the CRDs (the RBAC declarations, the webhooks' manifests, the operators'
 * manifests) it exports. The parent starts it under Node's permission model with read access only (no file
 * writes, no child processes, no workers); this file also turns every network connection into an
 * immediate error. So a module that starts a program when imported (no `import.meta.main` guard)
 * cannot act on anything outside this process; what it started is reported, and the parent ends
 * this process as soon as the report arrives.
 */
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import * as CrdDefinition from "../CrdDefinition.ts"
import * as Manifests from "../Manifests.ts"
import * as Rbac from "../Rbac.ts"
import * as Webhooks from "../Webhooks.ts"

/** What the parent prints: the CRDs, notes, the exit code, and what the module started. */
export interface Report {
  readonly out: string
  readonly err: string
  readonly code: number
}

const [file, format, command] = [
  process.argv[2]!,
  process.argv[3] === "json" ? "json" : "yaml",
  process.argv[4] === "rbac" || process.argv[4] === "webhooks" || process.argv[4] === "manifests" ? process.argv[4] : "crd"
] as const
const name = Path.basename(file)
const started: Array<string> = []

// every connection fails at once, as a refused one would, and is recorded
const connect = Net.Socket.prototype.connect
Net.Socket.prototype.connect = function(this: Net.Socket, ...args: Array<unknown>) {
  // net.connect(port, host) reaches here as one normalized [options, callback] array
  const [first, second] = (Array.isArray(args[0]) ? args[0] : args) as [unknown, unknown]
  const where = typeof first === "object" && first !== null
    ? ("path" in first ? String(first.path) : `${(first as Net.TcpNetConnectOpts).host ?? "localhost"}:${(first as Net.TcpNetConnectOpts).port}`)
    : `${typeof second === "string" ? second : "localhost"}:${String(first)}`
  started.push(`a connection to ${where}`)
  process.nextTick(() => this.destroy(Object.assign(new Error(`operatorkit ${command}: no network while ${name} is imported`), { code: "ECONNREFUSED" })))
  return this
} as typeof connect

// processes are refused by the permission model; recorded here to say which (every spawn, exec and
// fork goes through ChildProcess.prototype.spawn, which @types/node does not declare)
const childProto = ChildProcess.ChildProcess.prototype as unknown as { spawn: (options: { file?: string }) => unknown }
const spawn = childProto.spawn
childProto.spawn = function(this: unknown, options: { file?: string }) {
  started.push(`a process ${options?.file ?? ""} (refused)`)
  return spawn.call(this, options)
}

const denied = (error: unknown) => {
  const e = error as { code?: unknown; message?: unknown; resource?: unknown; permission?: unknown }
  if (e?.code === "ERR_ACCESS_DENIED") {
    started.push(`${String(e.permission ?? "access")}${e.resource !== undefined ? ` ${String(e.resource)}` : ""} (refused)`)
    return true
  }
  return false
}
process.on("uncaughtException", (error) => void (denied(error) || started.push(`an uncaught ${String(error)}`)))
process.on("unhandledRejection", (error) => void (denied(error) || started.push(`an unhandled rejection: ${String(error)}`)))

const describe = (u: unknown): string => (u instanceof Error ? u.message : String(u))

const countByType = () => {
  const counts = new Map<string, number>()
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1)
  return counts
}

const guardNote = (what: string) =>
  `note: importing ${name} ${what}: a program that runs when the module is imported. ` +
  `operatorkit ${command} kept it from writing files, starting processes and reaching the network, and stopped it. ` +
  "Start it only when the module is run directly: `if (import.meta.main) { … }` (Node >= 22.18).\n"

const report = async (): Promise<Report> => {
  const before = countByType()
  let module: Record<string, unknown>
  try {
    module = await import(pathToFileURL(Path.resolve(file)).href) as Record<string, unknown>
  } catch (error) {
    if (denied(error)) {
      return {
        out: "",
        err: `cannot load ${file}: ${describe(error)}\n` + guardNote(`tried ${started.join(", ")}`),
        code: 1
      }
    }
    // a definition that cannot be made (CrdDefinition.makeUnsafe) throws while the module loads
    return { out: "", err: `cannot load ${file}:\n${describe(error)}\n`, code: 1 }
  }
  // let work the module started synchronously show itself
  await new Promise((resolve) => setImmediate(resolve))
  const after = countByType()
  for (const [type, n] of after) {
    const extra = n - (before.get(type) ?? 0)
    // pipes come with the (refused) processes already recorded
    if (extra > 0 && type !== "TTYWrap" && type !== "FSReqCallback" && type !== "PipeWrap") started.push(`${extra} ${type}`)
  }
  const note = started.length > 0 ? guardNote(`started work (${started.join(", ")})`) : ""
  if (command === "rbac") return rbacReport(module, note)
  if (command === "webhooks") return webhooksReport(module, note)
  if (command === "manifests") return manifestsReport(module, note)
  const definitions: Array<CrdDefinition.Definition> = []
  for (const value of Object.values(module)) {
    if (CrdDefinition.isDefinition(value) && !definitions.includes(value)) definitions.push(value)
  }
  if (definitions.length === 0) {
    return { out: "", err: `${file} exports no CRD definition (make one with CrdDefinition.make or CrdDefinition.makeUnsafe and export it)\n${note}`, code: 1 }
  }
  const checks = definitions.flatMap((d) =>
    d.decoderOnlyChecks.map((c) => `note: ${d.name} ${c.version} ${c.path}: ${c.check}: checked by the decoder only, not stated in the CRD\n`)
  )
  return { out: format === "json" ? CrdDefinition.toJson(definitions) : CrdDefinition.toYaml(definitions), err: checks.join("") + note, code: 0 }
}

/** The roles and bindings of every RBAC declaration the module exports, as YAML documents or a JSON List. */
const rbacReport = (module: Record<string, unknown>, note: string): Report => {
  const declarations: Array<Rbac.Declaration> = []
  for (const value of Object.values(module)) {
    if (Rbac.isDeclaration(value) && !declarations.includes(value)) declarations.push(value)
  }
  if (declarations.length === 0) {
    return { out: "", err: `${file} exports no RBAC declaration (make one with Rbac.make and export it)\n${note}`, code: 1 }
  }
  const out = format === "json"
    ? JSON.stringify({ apiVersion: "v1", kind: "List", items: declarations.flatMap((d) => Rbac.manifests(d)) }, null, 2) + "\n"
    : declarations.map((d) => Rbac.toYaml(d)).join("---\n")
  return { out, err: note, code: 0 }
}

/** Every exported webhooks definition's configurations and converted CRDs, as YAML documents or a JSON List. */
const webhooksReport = (module: Record<string, unknown>, note: string): Report => {
  const definitions: Array<Webhooks.Definition<unknown>> = []
  for (const value of Object.values(module)) {
    if (Webhooks.isDefinition(value) && !definitions.includes(value)) definitions.push(value)
  }
  if (definitions.length === 0) {
    return { out: "", err: `${file} exports no webhooks (make them with Webhooks.make or Webhooks.makeUnsafe and export them)\n${note}`, code: 1 }
  }
  try {
    const out = format === "json"
      ? JSON.stringify({ apiVersion: "v1", kind: "List", items: definitions.flatMap((d) => Webhooks.manifests(d)) }, null, 2) + "\n"
      : definitions.map((d) => Webhooks.toYaml(d)).join("---\n")
    return { out, err: note, code: 0 }
  } catch (error) {
    return { out: "", err: `cannot print the webhooks of ${file}:\n${describe(error)}\n${note}`, code: 1 }
  }
}

/** The manifests of every operator the module exports (`Manifests.make`). */
const manifestsReport = (module: Record<string, unknown>, note: string): Report => {
  const operators: Array<Manifests.Operator> = []
  for (const value of Object.values(module)) {
    if (Manifests.isOperator(value) && !operators.includes(value)) operators.push(value)
  }
  if (operators.length === 0) {
    return { out: "", err: `${file} exports no operator (describe one with Manifests.make and export it)\n${note}`, code: 1 }
  }
  const out = format === "json"
    ? JSON.stringify({ apiVersion: "v1", kind: "List", items: operators.flatMap((o) => Manifests.documents(o).map((d) => d.object)) }, null, 2) + "\n"
    : operators.map((o) => Manifests.toYaml(o)).join("---\n")
  return { out, err: note, code: 0 }
}

process.send!(await report())
