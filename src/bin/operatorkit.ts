#!/usr/bin/env node
/**
 * The `operatorkit` command.
 *
 *   operatorkit crd <module> [--format yaml|json]
 *
 * imports the module and prints every CRD definition it exports (values made with `Crd.make…`), as
 * YAML documents (default) or JSON, for `kubectl apply -f -`.
 */
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import * as Crd from "../Crd.ts"

const usage = `usage: operatorkit crd <module> [--format yaml|json]

  Prints the CustomResourceDefinitions a module exports (values made with Crd.make or Crd.makeUnsafe),
  ready for kubectl apply -f -.

  <module>         a path to a JavaScript or TypeScript module (TypeScript needs Node's type stripping)
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

const describe = (u: unknown): string => (u instanceof Error ? u.message : String(u))

const crd = async (args: ReadonlyArray<string>, io: Io): Promise<number> => {
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

  const file = Path.resolve(positional[0]!)
  let module: Record<string, unknown>
  try {
    module = await import(pathToFileURL(file).href) as Record<string, unknown>
  } catch (error) {
    // a definition that cannot be made (Crd.makeUnsafe) throws while the module loads
    return fail(io, 1, `cannot load ${file}:\n${describe(error)}`)
  }
  const definitions: Array<Crd.Definition> = []
  for (const value of Object.values(module)) {
    if (Crd.isDefinition(value) && !definitions.includes(value)) definitions.push(value)
  }
  if (definitions.length === 0) {
    return fail(io, 1, `${file} exports no CRD definition (make one with Crd.make or Crd.makeUnsafe and export it)`)
  }
  io.out(format === "json" ? Crd.toJson(definitions) : Crd.toYaml(definitions))
  for (const d of definitions) {
    for (const c of d.decoderOnlyChecks) {
      io.err(`note: ${d.name} ${c.version} ${c.path}: ${c.check}: checked by the decoder only, not stated in the CRD\n`)
    }
  }
  return 0
}

const main = async (argv: ReadonlyArray<string>, io: Io): Promise<number> => {
  const [command, ...rest] = argv
  if (command === "crd") return crd(rest, io)
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
