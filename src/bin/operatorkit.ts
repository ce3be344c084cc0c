#!/usr/bin/env node
/**
 * The `operatorkit` command.
 *
 *   operatorkit crd <module> [--format yaml|json]
 *   operatorkit rbac <module> [--format yaml|json]
 *   operatorkit webhooks <module> [--format yaml|json]
 *   operatorkit manifests <module> [--format yaml|json]
 *   operatorkit init <name> [--group <group>] [--version <version>] [--kind <Kind>]
 *   operatorkit create api --group <group> --version <version> --kind <Kind>
 *
 * imports the module and prints every CRD definition it exports (values made with `CrdDefinition.make…`),
 * the ServiceAccount, least roles and bindings of every RBAC declaration it exports (`Rbac.make`),
 * the webhook configurations and converted CRDs of every webhooks definition it exports (`Webhooks.make…`),
 * or everything to deploy every operator it exports (`Manifests.make`), as
 * YAML documents (default) or JSON, for `kubectl apply -f -`. The module is imported in a child
 * process that cannot write files, start processes or open connections, so a program the module
 * starts when imported (no `if (import.meta.main)` guard) cannot act; the command says so.
 * `init` and `create api` write a new operator project, or a kind and its controller into one
 * (templates in scaffold.ts).
 */
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import * as Fs from "node:fs"
import type { Report } from "./crdLoader.ts"
import * as Scaffold from "./scaffold.ts"

const usage = `usage: operatorkit crd <module> [--format yaml|json]
       operatorkit rbac <module> [--format yaml|json]
       operatorkit webhooks <module> [--format yaml|json]
       operatorkit manifests <module> [--format yaml|json]
       operatorkit init <name> [--group <group>] [--version <version>] [--kind <Kind>]
       operatorkit create api --group <group> --version <version> --kind <Kind>

  crd    prints the CustomResourceDefinitions a module exports (values made with CrdDefinition.make or
         CrdDefinition.makeUnsafe), ready for kubectl apply -f -.
  rbac   prints the ServiceAccount, the least ClusterRole and Roles and their bindings of every RBAC
         declaration a module exports (Rbac.make), each rule with comments saying who needs it.
  webhooks prints the Validating- and MutatingWebhookConfiguration and the CRDs with conversion: Webhook
         of every webhooks definition a module exports (Webhooks.make or Webhooks.makeUnsafe).
  manifests  prints what deploys every operator a module exports (Manifests.make): Namespace, CRDs,
         ServiceAccount and RBAC, metrics Service, Deployment, and a ServiceMonitor when asked.
  init   writes a new operator project into the folder <name> (a DNS label, e.g. widget-operator):
         package.json, tsconfig, a kind's Schema (default group example.com, version v1alpha1, the
         kind from the name), its controller, tests on the in-memory server and on Envtest, a
         Dockerfile and the manifests script. Then: cd <name> && npm install && npm test.
  create api  adds a kind, its controller and tests to the project in the current folder and
         registers them in src/operator.ts.

  <module>         a path to a JavaScript or TypeScript module (TypeScript needs Node's type stripping).
                   It is imported, not run: start your program under if (import.meta.main) { … }.
  --format yaml    YAML documents separated by --- (default)
  --format json    one JSON object, or a List of several
`

interface Io {
  readonly out: (text: string) => void
  readonly err: (text: string) => void
}

const fail = (io: Io, code: number, message: string): number => {
  io.err(message.endsWith("\n") ? message : `${message}\n`)
  return code
}

type Command = "crd" | "rbac" | "webhooks" | "manifests"

const printExports = async (command: Command, args: ReadonlyArray<string>, io: Io): Promise<number> => {
  let format: "yaml" | "json" = "yaml"
  const positional: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--format" || arg === "-o") {
      const value = args[++i]
      if (value !== "yaml" && value !== "json") return fail(io, 2, `--format takes yaml or json, not ${value ?? "nothing"}\n\n${usage}`)
      format = value
    } else if (arg.startsWith("--format=")) {
      const value = arg.slice("--format=".length)
      if (value !== "yaml" && value !== "json") return fail(io, 2, `--format takes yaml or json, not ${value}\n\n${usage}`)
      format = value
    } else if (arg.startsWith("-")) {
      return fail(io, 2, `unknown option ${arg}\n\n${usage}`)
    } else positional.push(arg)
  }
  if (positional.length !== 1) return fail(io, 2, usage)

  return load(Path.resolve(positional[0]!), format, command, io)
}

/**
 * Imports the module in a child process that may read files but not write them, start processes or
 * open connections (crdLoader.ts): a module whose program starts when it is imported cannot act.
 */
const load = (file: string, format: "yaml" | "json", command: Command, io: Io): Promise<number> =>
  new Promise((resolve) => {
    const loader = Path.join(import.meta.dirname, `crdLoader${Path.extname(import.meta.filename)}`)
    const child = ChildProcess.spawn(
      process.execPath,
      [...process.execArgv, "--permission", "--allow-fs-read=*", "--disable-warning=SecurityWarning", "--disable-warning=ExperimentalWarning", loader, file, format, command],
      { stdio: ["ignore", "pipe", "pipe", "ipc"] }
    )
    // what the module itself prints is shown only when no report comes
    let output = ""
    child.stdout!.on("data", (c: Buffer) => (output += c.toString()))
    child.stderr!.on("data", (c: Buffer) => (output += c.toString()))
    let reported = false
    child.once("message", (message) => {
      reported = true
      const report = message as Report
      child.kill("SIGKILL")
      if (report.out !== "") io.out(report.out)
      if (report.err !== "") io.err(report.err)
      resolve(report.code)
    })
    child.once("exit", (code, signal) => {
      if (!reported) resolve(fail(io, 1, `cannot load ${file}: its loader ended (${signal ?? `exit code ${code}`})\n${output.slice(-4000)}`))
    })
  })

/** --group/--version/--kind (as `--flag value` or `--flag=value`) and the positional arguments. */
const parseScaffold = (args: ReadonlyArray<string>): { flags: Record<string, string>; positional: Array<string> } | string => {
  const flags: Record<string, string> = {}
  const positional: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    const m = /^--(group|version|kind)(?:=(.*))?$/.exec(arg)
    if (m !== null) {
      const value = m[2] ?? args[++i]
      if (value === undefined || value === "") return `--${m[1]} needs a value`
      flags[m[1]!] = value
    } else if (arg.startsWith("-")) return `unknown option ${arg}`
    else positional.push(arg)
  }
  return { flags, positional }
}

const operatorkitPackage = () =>
  JSON.parse(Fs.readFileSync(Path.join(import.meta.dirname, "..", "..", "package.json"), "utf8")) as {
    version: string
    peerDependencies?: Record<string, string>
    devDependencies?: Record<string, string>
  }

const scaffold = (command: "init" | "create", args: ReadonlyArray<string>, io: Io): number => {
  const parsed = parseScaffold(command === "create" && args[0] === "api" ? args.slice(1) : args)
  if (typeof parsed === "string") return fail(io, 2, `${parsed}\n\n${usage}`)
  const { flags, positional } = parsed
  try {
    if (command === "init") {
      if (positional.length !== 1) return fail(io, 2, `operatorkit init takes one name\n\n${usage}`)
      const name = positional[0]!
      const bad = Scaffold.checkName(name)
      if (bad !== undefined) return fail(io, 1, bad)
      const self = operatorkitPackage()
      const versions = { ...self.devDependencies, ...self.peerDependencies }
      const api = { group: flags["group"] ?? "example.com", version: flags["version"] ?? "v1alpha1", kind: flags["kind"] ?? Scaffold.kindFromName(name) }
      const files = Scaffold.init(process.cwd(), { name, api, operatorkit: `^${self.version}`, versions })
      io.out(`wrote ${name}/: ${files.join(", ")}\nnext: cd ${name} && npm install && npm test\n`)
      return 0
    }
    if (args[0] !== "api" || positional.length !== 0) return fail(io, 2, usage)
    const missing = ["group", "version", "kind"].filter((f) => flags[f] === undefined)
    if (missing.length > 0) return fail(io, 2, `operatorkit create api needs ${missing.map((f) => `--${f}`).join(", ")}\n\n${usage}`)
    const files = Scaffold.createApi(process.cwd(), { group: flags["group"]!, version: flags["version"]!, kind: flags["kind"]! })
    io.out(`wrote ${files.join(", ")}\n`)
    return 0
  } catch (e) {
    if (e instanceof Scaffold.ScaffoldError) return fail(io, 1, e.message)
    throw e
  }
}

const main = async (argv: ReadonlyArray<string>, io: Io): Promise<number> => {
  const [command, ...rest] = argv
  if (command === "init" || command === "create") return scaffold(command, rest, io)
  if (command === "crd" || command === "rbac" || command === "webhooks" || command === "manifests") return printExports(command, rest, io)
  if (command === "--help" || command === "-h" || command === "help") {
    io.out(usage)
    return 0
  }
  return fail(io, 2, command === undefined ? usage : `unknown command ${command}\n\n${usage}`)
}

process.exitCode = await main(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text)
})
